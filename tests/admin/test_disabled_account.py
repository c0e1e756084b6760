"""A disabled account has no way back in but an operator's *enable*: not a reset link mailed
before it was disabled, not a remembered browser, not a sign-in half done when it was
disabled (the built-in proxy's refusal: tests/admin/test_people.py; nginx: tests/edge)."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import func, select

from gateway.db import new_session
from gateway.models import AuditEvent, LoginSession, User
from tests.support.console import PASSWORD, Actions, csrf_token, current_code
from tests.support.operators import Operator, reload, signed_in_operator


@pytest.fixture
def admin(app: Flask) -> Operator:
    return signed_in_operator(app, "admin@example.com", "admin")


def act(op: Operator, target: User, action: str) -> None:
    path = f"/admin/people/{target.id}"
    answer = op.actions.client.post(f"{path}/{action}", data={
        "csrf_token": csrf_token(op.actions.client, path), f"{action}-reason": "ticket 5"})
    assert answer.status_code == 302


def sessions_of(app: Flask, user_id: str) -> int:
    with app.app_context(), new_session() as session:
        return int(session.scalar(select(func.count()).select_from(LoginSession)
                                  .where(LoginSession.user_id == user_id)) or 0)


def test_a_reset_link_mailed_before_disabling_cannot_finish(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com")
    stranger = Actions(app, app.test_client())
    stranger.post("/forgot-password", email="pat@example.com")
    link = stranger.mailed_link("pat@example.com")
    assert stranger.client.get(link).status_code == 200  # works before
    act(admin, pat, "disable")
    page = stranger.client.get(link)
    assert page.status_code == 400 and "disabled" in page.get_data(as_text=True)
    token = link.split("token=", 1)[1]
    answer = stranger.client.post("/reset-password", data={
        "csrf_token": csrf_token(stranger.client, "/forgot-password"), "token": token,
        "password": "an entirely new passphrase", "confirm": "an entirely new passphrase"})
    assert answer.status_code == 400
    assert reload(app, pat.id).password_hash == pat.password_hash
    assert sessions_of(app, pat.id) == 0
    assert stranger.client.get("/settings").status_code == 302


def test_a_remembered_browser_does_not_sign_a_disabled_account_in(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com", totp=True)
    assert pat.totp_secret is not None
    actions.sign_in("pat@example.com")
    assert actions.post("/login/2fa", code=current_code(pat.totp_secret),
                        remember="y").status_code == 302
    actions.sign_out()
    act(admin, pat, "disable")
    before = sessions_of(app, pat.id)
    refused = actions.sign_in("pat@example.com")
    assert refused.status_code == 403 and "disabled" in refused.get_data(as_text=True)
    assert sessions_of(app, pat.id) == before
    assert actions.client.get("/settings").status_code == 302
    # Enabled again, the browser is no longer remembered: the code is asked for.
    act(admin, pat, "enable")
    assert actions.sign_in("pat@example.com").location == "/login/2fa"


def test_a_sign_in_half_done_when_the_account_was_disabled_cannot_finish(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com", totp=True)
    assert pat.totp_secret is not None
    assert actions.sign_in("pat@example.com").location == "/login/2fa"
    act(admin, pat, "disable")
    answer = actions.post("/login/2fa", form_path="/login", code=current_code(pat.totp_secret))
    assert answer.status_code in (302, 400, 401, 403)
    assert sessions_of(app, pat.id) == 0
    assert actions.client.get("/settings").status_code == 302
    with app.app_context(), new_session() as session:
        assert not session.scalars(select(AuditEvent).where(
            AuditEvent.event == "login", AuditEvent.user_id == pat.id)).all()


def test_password_still_wrong_for_a_disabled_account_says_nothing_more(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com")
    act(admin, pat, "disable")
    wrong = actions.sign_in("pat@example.com", password="not the password!!")
    assert wrong.status_code == 401 and "disabled" not in wrong.get_data(as_text=True)
    assert actions.sign_in("pat@example.com", password=PASSWORD).status_code == 403
