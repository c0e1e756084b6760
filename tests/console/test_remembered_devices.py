"""Remember this device for 30 days (issue 12, item 4) and the new-sign-in notice (item 5).

A remembered browser skips the second factor only (never the password), is stored as a hash
bound to one user, is listed in settings and revocable one by one, and is forgotten by every
credential change and by "sign out everywhere".
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from gateway.db import new_session
from gateway.models import KnownDevice, utcnow
from tests.support.console import PASSWORD, Actions, current_code, make_gateway_app
from tests.support.csrf import csrf_token
from tests.support.proxy_gateway import SignedIn, echoed

CHROME_ON_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
NEW_PASSWORD = "a fresh and long passphrase"


def remember(actions: Actions, secret: str, email: str = "user@example.com") -> None:
    """Sign in with password and code, ticking "Remember this device"."""
    assert actions.sign_in(email).location == "/login/2fa"
    response = actions.post("/login/2fa", code=current_code(secret), remember="y")
    assert response.status_code == 302 and response.location == "/"


def devices(app: Flask) -> list[KnownDevice]:
    with app.app_context(), new_session() as session:
        return list(session.scalars(select(KnownDevice)))


def asks_for_code(actions: Actions) -> bool:
    actions.sign_out()
    return actions.sign_in().location == "/login/2fa"


def test_remembered_device_skips_the_code_not_the_password(actions: Actions, app: Flask) -> None:
    user = actions.create_user(totp=True)
    page = actions.sign_in().location
    assert page == "/login/2fa"
    form = actions.client.get("/login/2fa").get_data(as_text=True)
    assert 'type="checkbox"' in form and "Remember this device for 30 days" in form
    response = actions.post("/login/2fa", code=current_code(user.totp_secret or ""), remember="y")
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("gw_device="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # served over HTTP in this test (see the next test)
    actions.sign_out()
    assert actions.sign_in(password="wrong password!!").status_code == 401  # password still needed
    skipped = actions.sign_in()
    assert skipped.status_code == 302 and skipped.location == "/"
    assert actions.client.get("/").status_code == 200


def test_device_cookie_is_secure_on_https(database_url: str) -> None:
    app = make_gateway_app(database_url, SESSION_COOKIE_SECURE=True)
    client, https = app.test_client(), "https://localhost"
    user = Actions(app, client).create_user(totp=True)

    def post(path: str, **data: str) -> Any:
        token = csrf_token(client, path, base_url=https)
        return client.post(path, base_url=https, data={**data, "csrf_token": token},
                           headers={"Referer": https + path})  # CSRF checks it on HTTPS

    assert post("/login", email="user@example.com", password=PASSWORD).status_code == 302
    response = post("/login/2fa", code=current_code(user.totp_secret or ""), remember="y")
    assert response.status_code == 302
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("gw_device="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_only_a_hash_is_stored_and_the_device_is_bound_to_its_user(
    actions: Actions, app: Flask
) -> None:
    user = actions.create_user(totp=True)
    other = actions.create_user("other@example.com", totp=True)
    remember(actions, user.totp_secret or "")
    token = actions.client.get_cookie("gw_device")
    assert token is not None
    [stored] = devices(app)
    assert stored.token_hash == hashlib.sha256(token.value.encode()).hexdigest()
    assert token.value not in (stored.token_hash, stored.public_id)
    # The same browser does not skip the second factor for another account.
    actions.sign_out()
    assert actions.sign_in("other@example.com").location == "/login/2fa"
    # Nor does another browser, or a made-up cookie.
    stranger = Actions(app, app.test_client())
    stranger.client.set_cookie("gw_device", "x" * 43)
    assert stranger.sign_in().location == "/login/2fa"
    assert other.id != user.id


def test_not_remembered_without_the_tick(actions: Actions) -> None:
    user = actions.create_user(totp=True)
    actions.sign_in()
    assert actions.enter_code(current_code(user.totp_secret or "")).status_code == 302
    assert asks_for_code(actions)


def test_remembered_for_30_days_only(actions: Actions, app: Flask) -> None:
    user = actions.create_user(totp=True)
    remember(actions, user.totp_secret or "")
    [stored] = devices(app)
    assert stored.remembered_until is not None
    days = (stored.remembered_until - stored.created_at) / timedelta(days=1)
    assert 29.9 < days <= 30
    with app.app_context(), new_session() as session:
        expired = utcnow() - timedelta(seconds=1)
        session.execute(update(KnownDevice).values(remembered_until=expired))
        session.commit()
    assert asks_for_code(actions)


def test_listed_in_settings_with_name_and_last_use(actions: Actions) -> None:
    user = actions.create_user(totp=True)
    actions.client.environ_base["HTTP_USER_AGENT"] = CHROME_ON_WINDOWS
    remember(actions, user.totp_secret or "")
    page = actions.client.get("/settings/devices").get_data(as_text=True)
    assert "Chrome 120 on Windows" in page and "(this browser)" in page
    assert utcnow().strftime("%Y-%m-%d") in page  # last used today
    assert 'href="/settings/devices"' in actions.client.get("/settings").get_data(as_text=True)


def _forget_in_settings(actions: Actions, app: Flask) -> None:
    [stored] = devices(app)
    assert actions.post(f"/settings/devices/{stored.public_id}/forget",
                        form_path="/settings/devices").status_code == 302


def _forget_all_in_settings(actions: Actions, app: Flask) -> None:
    assert actions.post("/settings/devices/forget-all",
                        form_path="/settings/devices").status_code == 302


def _change_password(actions: Actions, app: Flask) -> None:
    assert actions.post("/settings/password", form_path="/settings",
                        password=NEW_PASSWORD).status_code == 302
    actions.sign_out()
    actions.sign_in(password=NEW_PASSWORD)


def _turn_2fa_off(actions: Actions, app: Flask) -> None:
    assert actions.post("/settings/2fa/disable").status_code == 302
    with app.app_context(), new_session() as session:  # and on again, with a new key
        from gateway.models import User

        user = session.scalars(select(User)).one()
        user.totp_secret, user.totp_enabled_at = "JBSWY3DPEHPK3PXP", utcnow()
        user.totp_last_step = None
        session.commit()


def _new_recovery_codes(actions: Actions, app: Flask) -> None:
    assert actions.post("/settings/2fa/recovery-codes",
                        form_path="/settings/2fa/recovery-codes").status_code == 200


def _sign_out_everywhere(actions: Actions, app: Flask) -> None:
    response = actions.post("/settings/sessions/revoke-all", form_path="/settings")
    assert response.status_code == 302


def _reset_password(actions: Actions, app: Flask) -> None:
    actions.post("/forgot-password", email="user@example.com")
    link = actions.mailed_link("user@example.com")
    with app.app_context(), new_session() as session:  # the code step is tested elsewhere
        from gateway.models import User

        user = session.scalars(select(User)).one()
        user.totp_last_step = None
        session.commit()
        secret = user.totp_secret or ""
    token = link.split("token=", 1)[1]
    response = actions.post(link, form_path=link, token=token, password=NEW_PASSWORD,
                            code=current_code(secret))
    assert response.status_code == 302


def _operator_revoke(actions: Actions, app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["sessions", "revoke", "--email",
                                                "user@example.com"])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    "revocation",
    [_forget_in_settings, _forget_all_in_settings, _change_password, _turn_2fa_off,
     _new_recovery_codes, _sign_out_everywhere, _reset_password, _operator_revoke],
    ids=["forget-one", "forget-all", "password-change", "2fa-change", "new-recovery-codes",
         "sign-out-everywhere", "password-reset", "operator-revoke"],
)
def test_every_revocation_route_ends_the_skip(
    actions: Actions, app: Flask, revocation: Callable[[Actions, Flask], None]
) -> None:
    user = actions.create_user(totp=True)
    remember(actions, user.totp_secret or "")
    actions.sign_out()
    assert actions.sign_in().location == "/"  # remembered: straight in (and a fresh session)
    revocation(actions, app)
    with app.app_context(), new_session() as session:
        live = session.scalars(select(KnownDevice).where(KnownDevice.remembered_until.is_not(None)))
        assert list(live) == []
    if actions.client.get("/").status_code == 200:  # some routes keep this session
        actions.sign_out()
    fresh = Actions(app, actions.client)
    password = NEW_PASSWORD if revocation in (_change_password, _reset_password) else PASSWORD
    assert fresh.sign_in(password=password).location == "/login/2fa"


def test_forget_someone_elses_device_is_404(actions: Actions, app: Flask) -> None:
    user = actions.create_user(totp=True)
    remember(actions, user.totp_secret or "")
    [stored] = devices(app)
    other = Actions(app, app.test_client())
    other.create_user("other@example.com")
    other.sign_in("other@example.com")
    for public_id in (stored.public_id, "nope", "%00"):
        response = other.post(f"/settings/devices/{public_id}/forget", form_path="/settings")
        assert response.status_code == 404
    # The other person's sign-in stored a device of their own: find this one by its id (the
    # database returns rows in no set order).
    [kept] = [d for d in devices(app) if d.public_id == stored.public_id]
    assert kept.remembered_until is not None


# --- new sign-in notice -----------------------------------------------------------------------


def test_new_device_sign_in_sends_a_notice(actions: Actions, app: Flask) -> None:
    actions.create_user()
    actions.sign_in()  # the account's first device: nothing to tell
    assert actions.mails("user@example.com") == []
    actions.sign_out()
    actions.sign_in()  # the same browser again: known
    assert actions.mails("user@example.com") == []
    laptop = Actions(app, app.test_client())
    laptop.client.environ_base["HTTP_USER_AGENT"] = CHROME_ON_WINDOWS
    assert laptop.sign_in().status_code == 302
    [notice] = actions.mails("user@example.com")
    assert notice.subject == "New sign-in to your account"
    assert "Chrome 120 on Windows" in notice.body
    assert "/settings/sessions" in notice.body and "UTC" in notice.body
    laptop.sign_out()
    laptop.sign_in()
    assert len(actions.mails("user@example.com")) == 1


def test_shared_browser_keeps_each_persons_device(actions: Actions) -> None:
    actions.create_user("a@example.com")
    actions.create_user("b@example.com")
    for email in ("a@example.com", "b@example.com", "a@example.com", "b@example.com"):
        assert actions.sign_in(email).status_code == 302
        actions.sign_out()
    cookie = actions.client.get_cookie("gw_device")
    assert cookie is not None and len(cookie.value.split(".")) == 2
    assert actions.mails("a@example.com") == [] and actions.mails("b@example.com") == []


def test_device_cookie_never_reaches_products(signed_in: SignedIn) -> None:
    signed_in.client.set_cookie("gw_device", "a" * 43)
    signed_in.client.set_cookie("product_pref", "dark")
    cookie = dict(echoed(signed_in.client.get("/segment/x"))["headers"]).get("Cookie", "")
    assert "gw_device" not in cookie and "product_pref=dark" in cookie
