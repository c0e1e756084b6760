"""The sign-in policy: owners only, a fresh re-authentication and a reason for every change,
audited old -> new; its rules bite at the next request in the Console, the built-in proxy and
forward-auth (2FA for everyone leads to enrolment, lifetimes end sessions, a factor not allowed
cannot be set up)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from gateway.db import new_session
from gateway.models import AuditEvent, LoginSession, PolicyRow, User, utcnow
from tests.support.admin_api import bearer_token
from tests.support.apps import dispose
from tests.support.console import Actions, age_sessions, csrf_token, current_code, make_gateway_app
from tests.support.operators import Operator, signed_in_operator
from tests.support.proxy_gateway import Upstream, gateway_settings, sign_in

EDGE = {"REMOTE_ADDR": "127.0.0.1"}
BROWSER = {"Accept": "text/html"}
API = {"Accept": "application/json"}
DEFAULT = {"require_2fa": False, "allow_totp": True, "allow_passkey": True,
           "session_idle_seconds": None, "session_max_seconds": None}


@pytest.fixture
def app(database_url: str, upstreams: dict[str, Upstream], tmp_path: Any) -> Iterator[Flask]:
    """A gateway in front of the echo products, answering forward-auth from loopback."""
    gateway = make_gateway_app(database_url, **gateway_settings(upstreams, tmp_path,
                                                        FORWARD_AUTH_ALLOW=["127.0.0.1/32"]))
    yield gateway
    dispose(gateway)


@pytest.fixture
def owner(app: Flask) -> Operator:
    return signed_in_operator(app, "owner@example.com", "owner")


def post_policy(op: Operator, reason: str = "security review", **fields: Any) -> Any:
    data: dict[str, Any] = {"csrf_token": csrf_token(op.actions.client, "/admin/policy"),
                            "reason": reason, "allow_totp": "y", "allow_passkey": "y"}
    data.update({k: v for k, v in fields.items() if v is not None})
    for name in [k for k, v in fields.items() if v is None]:
        data.pop(name, None)
    return op.actions.client.post("/admin/policy", data=data)


def stored(app: Flask) -> dict[str, Any]:
    with app.app_context(), new_session() as session:
        row = session.get(PolicyRow, 1)
        if row is None:
            return dict(DEFAULT)
        return {name: getattr(row, name) for name in DEFAULT}


def put_policy(app: Flask, **values: Any) -> None:
    with app.app_context(), new_session() as session:
        row = session.get(PolicyRow, 1) or PolicyRow(id=1, **DEFAULT)
        for name, value in values.items():
            setattr(row, name, value)
        session.add(row)
        session.commit()


def forward(client: FlaskClient, uri: str, accept: dict[str, str] = BROWSER) -> Any:
    headers = {"X-Forwarded-Method": "GET", "X-Forwarded-Proto": "https",
               "X-Forwarded-Host": "localhost", "X-Forwarded-Uri": uri, **accept}
    return client.get("/auth/forward", headers=headers, environ_base=EDGE)


@pytest.mark.parametrize("role", ["support", "admin"])
def test_only_owners_see_or_change_the_policy(app: Flask, role: str) -> None:
    op = signed_in_operator(app, f"{role}@example.com", role)
    assert op.actions.client.get("/admin/policy").status_code == 403
    owner = signed_in_operator(app, "owner@example.com", "owner")
    token = csrf_token(owner.actions.client, "/admin/policy")
    answer = op.actions.client.post("/admin/policy", data={
        "csrf_token": token, "reason": "r", "require_2fa": "y", "allow_totp": "y"})
    assert answer.status_code in (400, 403)
    assert stored(app) == DEFAULT
    assert "Policy" not in op.actions.client.get("/admin/people").get_data(as_text=True)


def test_an_owner_changes_the_policy_with_a_reason_audited_old_to_new(
    app: Flask, owner: Operator
) -> None:
    page = owner.actions.client.get("/admin/policy").get_data(as_text=True)
    assert "required for operators only" in page
    answer = post_policy(owner, reason="ISO audit #12", require_2fa="y", allow_passkey=None,
                         idle_minutes="30")
    assert answer.status_code == 302, answer.get_data(as_text=True)[:500]
    assert stored(app) == DEFAULT | {"require_2fa": True, "allow_passkey": False,
                                     "session_idle_seconds": 1800}
    with app.app_context(), new_session() as session:
        event = session.scalars(select(AuditEvent).where(
            AuditEvent.event == "policy_changed")).one()
    assert event.actor_id == owner.id
    detail = json.loads(event.detail)
    assert detail["reason"] == "ISO audit #12"
    assert detail["changes"] == {"require_2fa": [False, True], "allow_passkey": [True, False],
                                 "session_idle_seconds": [None, 1800]}
    audit_page = owner.actions.client.get("/admin/audit").get_data(as_text=True)
    assert "require_2fa False -&gt; True" in audit_page
    # Saving the same again changes (and audits) nothing.
    post_policy(owner, require_2fa="y", allow_passkey=None, idle_minutes="30")
    with app.app_context(), new_session() as session:
        assert len(session.scalars(select(AuditEvent).where(
            AuditEvent.event == "policy_changed")).all()) == 1


def test_a_change_needs_a_fresh_re_authentication(app: Flask, owner: Operator) -> None:
    age_sessions(app)
    answer = post_policy(owner, require_2fa="y")
    assert answer.status_code == 302
    assert "/settings/reauthenticate" in answer.headers["Location"]
    assert stored(app) == DEFAULT


@pytest.mark.parametrize("fields", [
    {"allow_totp": None, "allow_passkey": None},        # nobody could enrol
    {"idle_minutes": "0"},                               # below the least
    {"idle_minutes": "999999"},                          # beyond the deployment's setting
    {"max_minutes": "2"},                                # shorter than 5 minutes
    {"idle_minutes": "ten"},                             # not a number
    {"reason": ""},                                      # no reason
    {"reason": "x" * 501},                               # too long a reason
], ids=["no-factor", "idle-zero", "idle-too-long", "max-too-short", "not-a-number",
        "no-reason", "long-reason"])
def test_a_policy_that_cannot_hold_is_refused_and_nothing_changes(
    app: Flask, owner: Operator, fields: dict[str, Any]
) -> None:
    reason = fields.pop("reason", "security review")
    answer = post_policy(owner, reason=reason, require_2fa="y", **fields)
    assert answer.status_code == 400
    assert stored(app) == DEFAULT
    assert "Traceback" not in answer.get_data(as_text=True)


def test_2fa_for_everyone_leads_to_enrolment_in_the_console_and_before_products(
    app: Flask, actions: Actions
) -> None:
    actions.create_user("pat@example.com")
    assert actions.sign_in("pat@example.com").status_code == 302
    assert actions.client.get("/settings/sessions").status_code == 200
    put_policy(app, require_2fa=True)
    answer = actions.client.get("/settings/sessions")
    assert answer.headers["Location"].endswith("/settings/2fa/enable")
    # The built-in proxy and forward-auth: sent to enrolment, never served.
    person = sign_in(app, app.test_client(), email="sam@example.com")
    for answer in (person.client.get("/segment/x", headers=BROWSER), forward(person.client,
                                                                              "/segment/x")):
        assert answer.status_code == 302
        assert answer.headers["Location"].endswith("/settings/2fa/enable")
        assert "X-Upstream" not in answer.headers
    assert person.client.get("/segment/x", headers=API).status_code == 401
    assert forward(person.client, "/segment/x", API).status_code == 401


def test_a_factor_the_policy_does_not_allow_does_not_count_nor_set_up(
    app: Flask, actions: Actions
) -> None:
    actions.create_user("pat@example.com", totp=True)  # has TOTP only
    put_policy(app, require_2fa=True, allow_totp=False)
    user = actions.user("pat@example.com")
    assert user.totp_secret is not None
    actions.sign_in("pat@example.com")
    assert actions.enter_code(current_code(user.totp_secret)).status_code == 302  # still signs in
    answer = actions.client.get("/settings/sessions")
    assert answer.headers["Location"].endswith("/settings/passkeys")  # an allowed one first
    answer = actions.client.get("/settings/2fa/enable")
    assert answer.headers["Location"].endswith("/settings/passkeys")


def test_session_lifetimes_of_the_policy_end_sessions_everywhere_at_once(
    app: Flask
) -> None:
    person = sign_in(app, app.test_client())

    def idle_ten_minutes() -> None:
        with app.app_context(), new_session() as session:
            session.execute(update(LoginSession).values(
                last_seen_at=utcnow() - timedelta(minutes=10)))
            session.commit()

    idle_ten_minutes()
    assert person.client.get("/segment/x", headers=API).status_code == 200  # 8 h idle allowed
    idle_ten_minutes()
    put_policy(app, session_idle_seconds=300)
    assert person.client.get("/segment/x", headers=API).status_code == 401
    assert forward(person.client, "/segment/x", API).status_code == 401
    assert person.client.get("/settings/sessions").status_code == 302

    other = sign_in(app, app.test_client(), email="sam@example.com",
                    links={"segment": "seg-sam"})
    assert other.client.get("/segment/x", headers=API).status_code == 200
    with app.app_context(), new_session() as session:
        session.execute(update(LoginSession).where(LoginSession.public_id ==
                                                   other.session_public_id)
                        .values(created_at=utcnow() - timedelta(hours=2)))
        session.commit()
    assert other.client.get("/segment/x", headers=API).status_code == 200
    put_policy(app, session_max_seconds=3600)
    assert other.client.get("/segment/x", headers=API).status_code == 401


def test_the_admin_api_reads_the_policy(app: Flask, owner: Operator) -> None:
    put_policy(app, require_2fa=True)
    token = bearer_token(app, owner, ("people:read",))
    answer = app.test_client().get("/admin/api/v1/policy",
                                   headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 200
    assert answer.get_json()["require_2fa"] is True
    assert app.test_client().get("/admin/api/v1/policy").status_code == 401



@pytest.mark.parametrize("reason", ["role", "operator_reset"])
def test_an_account_that_must_enrol_is_not_served_a_product(app: Flask, reason: str) -> None:
    """Not only "2FA for everyone": a role holder without a second factor, and a person whose
    2FA an operator reset, are sent to enrolment by the proxy and forward-auth alike."""
    person = sign_in(app, app.test_client())
    assert person.client.get("/segment/x", headers=API).status_code == 200
    with app.app_context(), new_session() as session:
        session.execute(update(User).values(role="support") if reason == "role"
                        else update(User).values(must_enrol_2fa=True))
        session.commit()
    for answer in (person.client.get("/segment/x", headers=BROWSER),
                   forward(person.client, "/segment/x")):
        assert answer.status_code == 302
        assert answer.headers["Location"].endswith("/settings/2fa/enable")
    assert person.client.get("/segment/x", headers=API).status_code == 401
