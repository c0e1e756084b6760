"""The audit log for operators: filters, paging, and exports streamed in batches."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import insert, select

from gateway.db import new_session
from gateway.identity import audit_log
from gateway.models import AuditEvent
from tests.support.console import Actions, csrf_token, make_gateway_app
from tests.support.operators import Operator, signed_in_operator


@pytest.fixture
def owner(app: Flask) -> Operator:
    return signed_in_operator(app, "owner@example.com", "owner")


def add_events(app: Flask, user_id: str, count: int, event: str = "logout",
               detail: str = "") -> None:
    with app.app_context(), new_session() as session:
        session.execute(insert(AuditEvent), [
            {"user_id": user_id, "event": event, "ip_address": "203.0.113.7", "detail": detail}
            for _ in range(count)])
        session.commit()


def export(op: Operator, fmt: str, **filters: str) -> str:
    token = csrf_token(op.actions.client, "/admin/audit")
    answer = op.actions.client.post("/admin/audit/export",
                                    data={"csrf_token": token, "format": fmt, **filters})
    assert answer.status_code == 200
    assert "attachment" in answer.headers["Content-Disposition"]
    return answer.get_data(as_text=True)


def test_audit_page_filters_by_event_and_target_and_pages(
    app: Flask, actions: Actions, owner: Operator
) -> None:
    pat = actions.create_user("pat@example.com")
    add_events(app, pat.id, 60)
    first = owner.actions.client.get("/admin/audit", query_string={
        "event": "logout", "target": "pat@example.com"}).get_data(as_text=True)
    assert first.count('data-event="logout"') == audit_log.PAGE_SIZE
    older = re.search(r'href="([^"]*before=\d+[^"]*)"', first)
    assert older, "no link to older events"
    second = owner.actions.client.get(older.group(1).replace("&amp;", "&"))
    assert second.get_data(as_text=True).count('data-event="logout"') == 10
    none = owner.actions.client.get("/admin/audit", query_string={"target": "nobody@x.org"})
    assert 'data-event="' not in none.get_data(as_text=True)


@pytest.mark.parametrize("query", [{"event": "no_such_event"}, {"since": "yesterday"},
                                   {"before": "-1"}, {"before": "9" * 40}])
def test_bad_audit_filters_are_a_clear_400(owner: Operator, query: dict[str, str]) -> None:
    assert owner.actions.client.get("/admin/audit", query_string=query).status_code == 400


def test_export_streams_every_row_in_batches_as_csv_and_json_lines(
    app: Flask, actions: Actions, owner: Operator, monkeypatch: pytest.MonkeyPatch
) -> None:
    pat = actions.create_user("pat@example.com")
    add_events(app, pat.id, 25, detail='{"device": "=HYPERLINK(1)"}')
    monkeypatch.setattr(audit_log, "BATCH", 4)
    rows = list(csv.reader(io.StringIO(export(owner, "csv", target=pat.id))))
    assert rows[0] == list(audit_log.COLUMNS)
    assert len(rows) == 26 and all(r[3] == pat.id for r in rows[1:])
    records = [json.loads(line) for line in export(owner, "jsonl", event="logout").splitlines()]
    assert len(records) == 25 and records[0]["detail"] == {"device": "=HYPERLINK(1)"}
    ids = [r["id"] for r in records]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 25


def test_exported_cells_never_start_a_spreadsheet_formula(
    app: Flask, actions: Actions, owner: Operator
) -> None:
    pat = actions.create_user("pat@example.com")
    add_events(app, pat.id, 1, detail="=cmd|' /C calc'!A0")
    rows = list(csv.reader(io.StringIO(export(owner, "csv", target=pat.id))))
    assert rows[1][-1].startswith("'=")


def test_export_is_audited_and_needs_its_csrf_token(app: Flask, owner: Operator) -> None:
    refused = owner.actions.client.post("/admin/audit/export", data={"format": "csv"})
    assert refused.status_code == 400
    text = export(owner, "csv", event="audit_exported")
    assert text.count(",audit_exported,") == 1  # this export, committed before it streamed


def _aged(app: Flask, days_old: tuple[int, ...]) -> None:
    with app.app_context(), new_session() as session:
        now = datetime.now(UTC)
        session.execute(insert(AuditEvent), [
            {"event": "logout", "ip_address": "203.0.113.7", "detail": "",
             "created_at": now - timedelta(days=d)} for d in days_old])
        session.commit()


def _kept(app: Flask) -> list[str]:
    with app.app_context(), new_session() as session:
        return sorted(e.event for e in session.scalars(select(AuditEvent)))


def test_audit_prune_command_removes_rows_past_retention_and_says_so(
    database_url: str
) -> None:
    app = make_gateway_app(database_url, AUDIT_RETENTION_DAYS=30)
    _aged(app, (400, 31, 29, 0))
    result = app.test_cli_runner().invoke(args=["audit", "prune"])
    assert result.exit_code == 0 and "removed 2 audit row(s)" in result.output
    assert _kept(app) == ["audit_pruned", "logout", "logout"]


def test_zero_retention_keeps_every_row(database_url: str) -> None:
    app = make_gateway_app(database_url, AUDIT_RETENTION_DAYS=0)
    _aged(app, (4000, 1))
    assert app.test_cli_runner().invoke(args=["audit", "prune"]).output == (
        "removed 0 audit row(s)\n")
    assert _kept(app) == ["logout", "logout"]


def test_background_round_prunes_the_audit_log(database_url: str) -> None:
    app = make_gateway_app(database_url, background_work=True, AUDIT_RETENTION_DAYS=30,
                   BACKGROUND_INTERVAL_SECONDS=3600)
    _aged(app, (90, 1))
    app.test_client().get("/healthz")  # a first request starts the round
    deadline = time.monotonic() + 20
    while _kept(app) != ["audit_pruned", "logout"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _kept(app) == ["audit_pruned", "logout"]
