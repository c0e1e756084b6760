"""``used_tokens`` keeps a spent id only while what it names could still be accepted: a SAML
assertion's id until its NotOnOrAfter plus the clock skew, a mailed link's id for the longest
link lifetime. Older rows go in each process's background round and with
``flask tokens prune``; rows still useful stay (a spent link stays refused)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import insert, select

from gateway.db import db, new_session
from gateway.models import UsedToken
from gateway.organizations.sso import saml
from tests.organizations.sso import test_saml_protocol as protocol
from tests.support.console import make_gateway_app

idp, sp, trusted = protocol.idp, protocol.sp, protocol.trusted  # the fixtures, here too

HOUR = 3600


def _spent(app: Flask, rows: dict[str, tuple[timedelta, timedelta | None]]) -> None:
    """Rows spent ``used`` ago, expiring ``expires`` from now (None: a link's id)."""
    now = datetime.now(UTC)
    with app.app_context(), new_session() as session:
        session.execute(insert(UsedToken), [
            {"token_id": token_id, "used_at": now - used,
             "expires_at": None if expires is None else now + expires}
            for token_id, (used, expires) in rows.items()])
        session.commit()


def _kept(app: Flask) -> list[str]:
    with app.app_context(), new_session() as session:
        return sorted(session.scalars(select(UsedToken.token_id)))


ROWS = {
    "link-spent-two-days-ago": (timedelta(days=2), None),
    "link-spent-an-hour-ago": (timedelta(hours=1), None),
    "assertion-expired": (timedelta(minutes=10), timedelta(seconds=-1)),
    "assertion-still-valid": (timedelta(minutes=1), timedelta(minutes=5)),
}
KEPT = ["assertion-still-valid", "link-spent-an-hour-ago"]


def test_prune_command_removes_spent_ids_past_their_usefulness(database_url: str) -> None:
    app = make_gateway_app(database_url, EMAIL_TOKEN_MAX_AGE=24 * HOUR, PASSWORD_RESET_MAX_AGE=HOUR)
    _spent(app, ROWS)
    result = app.test_cli_runner().invoke(args=["tokens", "prune"])
    assert result.exit_code == 0 and "removed 2 spent id(s)" in result.output
    assert _kept(app) == KEPT


def test_background_round_prunes_spent_ids(database_url: str) -> None:
    app = make_gateway_app(database_url, background_work=True, BACKGROUND_INTERVAL_SECONDS=3600)
    _spent(app, ROWS)
    app.test_client().get("/healthz")  # a first request starts the round
    deadline = time.monotonic() + 20
    while _kept(app) != KEPT and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _kept(app) == KEPT


def test_an_assertion_id_is_kept_until_its_not_on_or_after_plus_skew(
        app: Flask, sp: saml.ServiceProvider, trusted: saml.IdentityProvider) -> None:
    request_id, answer = protocol.sign_in_at_idp(sp, trusted)
    with app.app_context():
        assertion = saml.consume(sp, trusted, answer, request_id)
        db().commit()
    assert assertion.not_on_or_after is not None
    with app.app_context(), new_session() as session:
        [row] = session.scalars(select(UsedToken))
        assert row.expires_at == datetime.fromtimestamp(
            assertion.not_on_or_after + saml.CLOCK_SKEW_SECONDS, UTC)
    assert "removed 0 spent id(s)" in app.test_cli_runner().invoke(args=["tokens", "prune"]).output
    # Still spent: the same answer posted again is a replay.
    with app.app_context(), pytest.raises(saml.SamlRefused, match="used already"):
        saml.consume(sp, trusted, answer, request_id)
