"""A browser that passed the password step but not the code: "sign out everywhere" and a
password change end it too (issue 10's attack run).
"""

from __future__ import annotations

import pyotp
import pytest
from flask import Flask
from sqlalchemy import update

from gateway.db import new_session
from gateway.models import User
from tests.support.console import Actions, current_code
from tests.support.csrf import csrf_token, without_csrf


def signup(app: Flask, email: str, password: str) -> str:
    """Sign up from a fresh browser; the page's HTML without its CSRF token."""
    visitor = Actions(app, app.test_client())
    response = visitor.post("/signup", email=email, password=password)
    assert response.status_code == 200
    return without_csrf(response.get_data(as_text=True)).replace(email, "EMAIL")


def _pending_2fa(app: Flask) -> tuple[Actions, str]:
    """A browser that passed the password step of a 2FA user; the TOTP secret."""
    owner = Actions(app, app.test_client())
    user = owner.create_user("two@example.com", totp=True)
    half = Actions(app, app.test_client())
    assert half.sign_in("two@example.com").location == "/login/2fa"
    return half, str(user.totp_secret)


def _sign_in_fully(app: Flask, secret: str) -> Actions:
    owner = Actions(app, app.test_client())
    assert owner.sign_in("two@example.com").location == "/login/2fa"
    assert owner.enter_code(current_code(secret)).status_code == 302
    # The code above spent this time step; let the half-done browser use it too, so only the
    # sign-out (not replay protection) can stop it.
    with app.app_context(), new_session() as session:
        session.execute(update(User).values(totp_last_step=None))
        session.commit()
    return owner


@pytest.mark.cwe(613)
def test_pending_2fa_dies_with_sign_out_everywhere(app: Flask) -> None:
    half, secret = _pending_2fa(app)
    owner = _sign_in_fully(app, secret)
    assert owner.post("/settings/sessions/revoke-all", form_path="/settings").status_code == 302
    finish = half.client.post(
        "/login/2fa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": _token(half)}
    )
    assert finish.location == "/login"
    assert half.client.get("/settings").status_code == 302


@pytest.mark.cwe(613)
def test_pending_2fa_dies_with_password_change(app: Flask) -> None:
    half, secret = _pending_2fa(app)
    owner = _sign_in_fully(app, secret)
    changed = owner.post("/settings/password", password="a brand new passphrase here")
    assert changed.status_code == 302
    finish = half.client.post(
        "/login/2fa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": _token(half)}
    )
    assert finish.location == "/login"
    assert half.client.get("/settings").status_code == 302


def _token(actions: Actions) -> str:
    """A CSRF token of this browser without visiting /login/2fa (which may redirect)."""
    return csrf_token(actions.client, "/signup")
