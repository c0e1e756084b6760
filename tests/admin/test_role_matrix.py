"""The role matrix: each role x each action, allowed (the account changed) or 403 with nothing
changed; no escalation; every id looked up within the person; CSRF on every form; the network
limit; a fresh re-authentication for every change."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from gateway.db import new_session
from gateway.models import (
    AuditEvent,
    KnownDevice,
    LoginSession,
    OutboxMessage,
    ProductLink,
    ThrottleBucket,
    User,
    utcnow,
)
from tests.support.console import Actions, age_sessions, csrf_token, make_gateway_app
from tests.support.operators import Operator, grant, signed_in_operator

ROLES = ("support", "admin", "owner")
RANK = {role: n for n, role in enumerate(ROLES)}


def prepare(app: Flask, user_id: str) -> dict[str, str]:
    """Give the target something for every action to act on; returns the row ids."""
    with app.app_context(), new_session() as session:
        user = session.get(User, user_id)
        assert user is not None
        session.add(ThrottleBucket(key=f"acct:{user.email}", count=0,
                                   blocked_until=utcnow() + timedelta(minutes=10)))
        record = LoginSession(id=hashlib.sha256(user_id.encode()).hexdigest(), user_id=user_id)
        device = KnownDevice(token_hash=hashlib.sha256(b"d" + user_id.encode()).hexdigest(),
                             user_id=user_id, name="Firefox",
                             remembered_until=utcnow() + timedelta(days=3))
        link = ProductLink(user_id=user_id, product="segment", product_user_id="s-" + user_id)
        session.add_all([record, device, link])
        session.commit()
        return {"session": record.public_id, "device": device.public_id}


def snapshot(app: Flask, user_id: str) -> tuple[Any, ...]:
    """Everything an action could change about the account."""
    with app.app_context(), new_session() as session:
        user = session.get(User, user_id)
        assert user is not None

        def count(model: Any, *where: Any) -> int:
            return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)

        return (
            user.role, user.disabled_at, user.email_verified_at, user.totp_secret,
            user.must_enrol_2fa, user.session_epoch,
            count(LoginSession, LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)),
            count(KnownDevice, KnownDevice.user_id == user_id,
                  KnownDevice.remembered_until.is_not(None)),
            count(ProductLink, ProductLink.user_id == user_id),
            count(ThrottleBucket, ThrottleBucket.key == f"acct:{user.email}"),
            count(OutboxMessage, OutboxMessage.recipient == user.email),
            count(AuditEvent, AuditEvent.user_id == user_id),
        )


def state(app: Flask, user_id: str, **values: Any) -> None:
    with app.app_context(), new_session() as session:
        user = session.get(User, user_id)
        assert user is not None
        for name, value in values.items():
            setattr(user, name, value)
        session.commit()


Post = Callable[[Operator, User, dict[str, str]], Any]


def account(action: str) -> Post:
    def post(op: Operator, target: User, ids: dict[str, str]) -> Any:
        path = f"/admin/people/{target.id}"
        return op.actions.client.post(f"{path}/{action}", data={
            "csrf_token": csrf_token(op.actions.client, path), f"{action}-reason": "matrix"})
    return post


def row(suffix: str) -> Post:
    def post(op: Operator, target: User, ids: dict[str, str]) -> Any:
        path = f"/admin/people/{target.id}"
        return op.actions.client.post(path + suffix.format(**ids), data={
            "csrf_token": csrf_token(op.actions.client, path), "row-reason": "matrix"})
    return post


def role_to(role: str) -> Post:
    def post(op: Operator, target: User, ids: dict[str, str]) -> Any:
        path = f"/admin/people/{target.id}"
        return op.actions.client.post(f"{path}/role", data={
            "csrf_token": csrf_token(op.actions.client, path), "role-role": role,
            "role-reason": "matrix"})
    return post


#: action -> (least role, state the target needs for it to apply, the request)
MATRIX: dict[str, tuple[str, dict[str, Any], Post]] = {
    "resend-verification": ("support", {"email_verified_at": None},
                            account("resend-verification")),
    "send-reset": ("support", {}, account("send-reset")),
    "revoke-session": ("support", {}, row("/sessions/{session}/revoke")),
    "forget-device": ("support", {}, row("/devices/{device}/forget")),
    "disable": ("admin", {}, account("disable")),
    "enable": ("admin", {"disabled_at": utcnow()}, account("enable")),
    "reset-2fa": ("admin", {}, account("reset-2fa")),
    "lift-lockout": ("admin", {}, account("lift-lockout")),
    "unlink": ("admin", {}, row("/links/segment/unlink")),
    "grant-role": ("owner", {}, role_to("support")),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", list(MATRIX))
def test_role_matrix_allowed_changes_refused_is_403_and_nothing_changed(
    app: Flask, actions: Actions, role: str, action: str
) -> None:
    least, needs, post = MATRIX[action]
    op = signed_in_operator(app, f"{role}@example.com", role)
    target = actions.create_user("pat@example.com", totp=True)
    ids = prepare(app, target.id)
    state(app, target.id, **needs)
    before = snapshot(app, target.id)
    answer = post(op, target, ids)
    if RANK[role] >= RANK[least]:
        assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
        assert snapshot(app, target.id) != before
    else:
        assert answer.status_code == 403
        assert snapshot(app, target.id) == before


@pytest.mark.parametrize(("actor", "target_role", "action"), [
    ("admin", "admin", "disable"),
    ("admin", "owner", "disable"),
    ("admin", "owner", "reset-2fa"),
    ("support", "support", "send-reset"),
    ("support", "admin", "revoke-session"),
])
def test_no_one_acts_on_an_equal_or_higher_role(
    app: Flask, actions: Actions, actor: str, target_role: str, action: str
) -> None:
    op = signed_in_operator(app, "actor@example.com", actor)
    target = actions.create_user("peer@example.com", totp=True)
    grant(app, target.id, target_role)
    ids = prepare(app, target.id)
    before = snapshot(app, target.id)
    assert MATRIX[action][2](op, target, ids).status_code == 403
    assert snapshot(app, target.id) == before


def test_owners_act_on_owners_but_nobody_on_themselves(app: Flask, actions: Actions) -> None:
    owner = signed_in_operator(app, "owner@example.com", "owner")
    other = actions.create_user("other@example.com", totp=True)
    grant(app, other.id, "owner")
    prepare(app, other.id)
    assert account("disable")(owner, other, {}).status_code == 302
    before = snapshot(app, owner.id)
    assert role_to("support")(owner, owner.user, {}).status_code == 403  # no self-demotion
    assert account("disable")(owner, owner.user, {}).status_code == 403
    assert snapshot(app, owner.id) == before


def test_admin_cannot_make_itself_owner(app: Flask) -> None:
    admin = signed_in_operator(app, "admin@example.com", "admin")
    before = snapshot(app, admin.id)
    assert role_to("owner")(admin, admin.user, {}).status_code == 403
    assert snapshot(app, admin.id) == before


def test_no_role_no_console(app: Flask, actions: Actions) -> None:
    actions.create_user("pat@example.com")
    actions.sign_in("pat@example.com")
    assert actions.client.get("/admin/people").status_code == 403
    assert actions.client.get("/admin/audit").status_code == 403


def test_ids_of_another_person_are_not_found_and_change_nothing(
    app: Flask, actions: Actions
) -> None:
    op = signed_in_operator(app, "owner@example.com", "owner")
    pat = actions.create_user("pat@example.com")
    sam = actions.create_user("sam@example.com")
    sam_ids = prepare(app, sam.id)
    prepare(app, pat.id)
    before = snapshot(app, sam.id), snapshot(app, pat.id)
    for suffix in ("/sessions/{session}/revoke", "/devices/{device}/forget",
                   "/links/sendgrid/unlink"):
        assert row(suffix)(op, pat, sam_ids).status_code == 404, suffix
    assert (snapshot(app, sam.id), snapshot(app, pat.id)) == before
    for bad in ("1", "0" * 32, pat.id[:-1] + "%00", pat.id.upper(), pat.id + "0"):
        assert op.actions.client.get(f"/admin/people/{bad}").status_code == 404


@pytest.mark.parametrize("action", list(MATRIX))
def test_every_admin_form_needs_its_csrf_token(
    app: Flask, actions: Actions, action: str
) -> None:
    op = signed_in_operator(app, "owner@example.com", "owner")
    target = actions.create_user("pat@example.com", totp=True)
    ids = prepare(app, target.id)
    state(app, target.id, **MATRIX[action][1])
    before = snapshot(app, target.id)
    real = csrf_token
    try:
        globals()["csrf_token"] = lambda *_: "forged"
        answer = MATRIX[action][2](op, target, ids)
    finally:
        globals()["csrf_token"] = real
    assert answer.status_code == 400
    assert snapshot(app, target.id) == before


def test_a_change_needs_a_fresh_re_authentication(app: Flask, actions: Actions) -> None:
    op = signed_in_operator(app, "owner@example.com", "owner")
    target = actions.create_user("pat@example.com")
    age_sessions(app)
    before = snapshot(app, target.id)
    answer = account("disable")(op, target, {})
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/settings/reauthenticate")
    assert snapshot(app, target.id) == before


def test_admin_allow_keeps_the_console_to_its_networks(database_url: str) -> None:
    app = make_gateway_app(database_url, ADMIN_ALLOW=["10.0.0.0/8"])
    op = signed_in_operator(app, "owner@example.com", "owner")
    assert op.actions.client.get("/admin/people").status_code == 404
    inside = op.actions.client.get("/admin/people", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert inside.status_code == 200
