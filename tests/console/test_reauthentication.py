"""Re-authentication when the 5-minute window lapses mid-form: the form comes back as it was
left (secrets excepted), the page says why and offers "Forgot password?" and "Cancel"; a stale
POST never ends in a 405."""

from __future__ import annotations

import html
import re

import pyotp
from flask import Flask

from tests.support.console import PASSWORD, Actions, age_sessions
from tests.support.csrf import csrf_from, csrf_token


def text(response: object) -> str:
    return html.unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def signed_in(actions: Actions) -> Actions:
    actions.create_user()
    actions.sign_in()
    return actions


def test_lapsed_email_change_comes_back_filled_after_confirming(
    actions: Actions, app: Flask
) -> None:
    signed_in(actions)
    token = csrf_token(actions.client, "/settings/email")
    age_sessions(app)  # the person took a while over the form
    stale = actions.client.post("/settings/email", data={
        "csrf_token": token, "email": "new.address@example.com"})
    assert stale.status_code == 302
    assert stale.location == "/settings/reauthenticate?next=/settings/email"
    page = text(actions.client.get(stale.location))
    assert "more than 5 minutes" in page and "what you typed is kept" in page
    assert 'href="/forgot-password?email=user@example.com">Forgot password?' in page
    assert re.search(r'<a[^>]*href="/settings"[^>]*>Cancel</a>', page)
    confirmed = actions.post("/settings/reauthenticate", form_path=stale.location,
                             password=PASSWORD, next="/settings/email")
    assert confirmed.status_code == 302 and confirmed.location == "/settings/email"
    back = text(actions.client.get("/settings/email"))
    assert re.search(r'<input[^>]*id="email"[^>]*value="new.address@example.com"', back)
    # Once: the next visit is a blank form.
    assert "new.address@example.com" not in text(actions.client.get("/settings/email"))


def test_lapsed_password_change_keeps_no_password(actions: Actions, app: Flask) -> None:
    """A new password is a secret: never kept in the browser's cookie; the page says to type
    it again."""
    signed_in(actions)
    token = csrf_token(actions.client, "/settings/password")
    age_sessions(app)
    stale = actions.client.post("/settings/password", data={
        "csrf_token": token, "password": "a brand new passphrase"})
    assert stale.location == "/settings/reauthenticate?next=/settings/password"
    with actions.client.session_transaction() as cookie:
        assert "a brand new passphrase" not in repr(dict(cookie))
    page = text(actions.client.get(stale.location))
    assert "type again what holds a secret" in page
    actions.reauthenticate()
    back = text(actions.client.get("/settings/password"))
    assert "a brand new passphrase" not in back and 'id="password"' in back


def test_lapsed_2fa_setup_keeps_the_scanned_key_and_the_code(actions: Actions, app: Flask) -> None:
    signed_in(actions)
    first = text(actions.client.get("/settings/2fa/enable"))
    secret = re.search(r'id="totp-secret"[^>]*>([^<]+)<', first)
    token = csrf_from(first)
    assert secret is not None
    code = pyotp.TOTP(secret.group(1).replace(" ", "")).now()
    age_sessions(app)
    stale = actions.client.post("/settings/2fa/enable", data={
        "csrf_token": token, "code": code})
    assert stale.location == "/settings/reauthenticate?next=/settings/2fa/enable"
    actions.reauthenticate()
    back = text(actions.client.get("/settings/2fa/enable"))
    assert secret.group(1) in back  # the same key: nothing to scan again
    assert re.search(rf'<input[^>]*id="code"[^>]*value="{code}"', back)


def test_stale_post_to_a_post_only_address_returns_to_a_page(actions: Actions, app: Flask) -> None:
    """A stale POST whose own address answers only POST (a passkey's rename) goes back to the
    nearest page that answers GET, never to a 405."""
    signed_in(actions)
    token = csrf_token(actions.client, "/settings")
    age_sessions(app)
    stale = actions.client.post("/settings/passkeys/abc/rename", data={
        "csrf_token": token, "name": "Laptop"})
    assert stale.location == "/settings/reauthenticate?next=/settings/passkeys"
    confirmed = actions.post("/settings/reauthenticate", form_path=stale.location,
                             password=PASSWORD, next="/settings/passkeys")
    assert confirmed.status_code == 302 and confirmed.location == "/settings/passkeys"
    assert actions.client.get(confirmed.location).status_code == 200
