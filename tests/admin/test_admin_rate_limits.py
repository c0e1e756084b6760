"""Admin actions are rate-limited per operator and per API client
(``ADMIN_ACTIONS_PER_MINUTE``, counted in ``interventions.authorise`` before anything
changes): past it, 429 with ``Retry-After`` and nothing changed; another operator is not
held back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from gateway.db import new_session
from gateway.models import AuditEvent, User
from tests.support.admin_api import bearer_token
from tests.support.apps import dispose
from tests.support.console import Actions, csrf_token, make_gateway_app
from tests.support.operators import Operator, signed_in_operator

LIMIT = 2


@pytest.fixture
def app(database_url: str) -> Iterator[Flask]:
    gateway = make_gateway_app(database_url, ADMIN_ACTIONS_PER_MINUTE=LIMIT)
    yield gateway
    dispose(gateway)


def audited(app: Flask, event: str) -> int:
    with app.app_context(), new_session() as session:
        return int(session.scalar(select(func.count()).select_from(AuditEvent)
                                  .where(AuditEvent.event == event)) or 0)


def send_reset(op: Operator, target: User) -> TestResponse:
    path = f"/admin/people/{target.id}"
    return op.actions.client.post(f"{path}/send-reset", data={
        "csrf_token": csrf_token(op.actions.client, path), "send-reset-reason": "ticket 7"})


def test_an_operator_past_the_rate_gets_429_and_nothing_changes(
    app: Flask, actions: Actions
) -> None:
    pat = actions.create_user("pat@example.com")
    support = signed_in_operator(app, "support@example.com", "support")
    for _ in range(LIMIT):
        assert send_reset(support, pat).status_code == 302
    mails = len(actions.mails("pat@example.com"))
    refused = send_reset(support, pat)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert "nothing was changed" in refused.get_data(as_text=True)
    assert len(actions.mails("pat@example.com")) == mails
    assert audited(app, "reset_mail_sent") == LIMIT
    # Another operator has a rate of their own.
    other = signed_in_operator(app, "other@example.com", "support")
    assert send_reset(other, pat).status_code == 302


def test_an_api_client_past_the_rate_gets_429_and_nothing_changes(
    app: Flask, actions: Actions
) -> None:
    pat = actions.create_user("pat@example.com")
    owner = signed_in_operator(app, "owner@example.com", "owner")
    token = bearer_token(app, owner, ("people:write",))
    api = app.test_client()

    def act() -> TestResponse:
        return api.post(f"/admin/api/v1/people/{pat.id}/send-reset",
                        json={"reason": "ticket 8"}, headers={"Authorization": f"Bearer {token}"})

    for _ in range(LIMIT):
        assert act().status_code == 200
    refused = act()
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    assert refused.get_json()["error"] == "too_many_requests"
    assert audited(app, "reset_mail_sent") == LIMIT
