"""Server-side sessions: fixation, logout, sign out everywhere, password change, two instances."""

from __future__ import annotations

import html
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.console import PASSWORD, Actions, make_gateway_app


def session_cookie(client: FlaskClient) -> str:
    cookie = client.get_cookie("gw_session")
    assert cookie is not None
    return cookie.value


def test_new_session_id_at_login(actions: Actions) -> None:
    actions.create_user()
    actions.client.get("/login")
    actions.client.set_cookie("gw_session", "attacker-chosen-value")
    actions.sign_in()
    with actions.client.session_transaction() as session:
        first_sid = session["sid"]
    actions.sign_out()
    actions.sign_in()
    with actions.client.session_transaction() as session:
        assert session["sid"] != first_sid


def test_pre_login_cookie_is_not_kept(actions: Actions, app: Flask) -> None:
    """Session fixation: a cookie planted before login never becomes an authenticated one."""
    actions.create_user()
    planted = app.test_client()
    planted.get("/login")
    planted_cookie = session_cookie(planted)
    actions.client.set_cookie("gw_session", planted_cookie)
    actions.sign_in()
    victim_cookie = session_cookie(actions.client)
    assert victim_cookie != planted_cookie
    planted.set_cookie("gw_session", planted_cookie)
    assert planted.get("/").status_code == 302


def test_cookie_flags(actions: Actions, database_url: str) -> None:
    actions.create_user()
    response = actions.sign_in()
    header = next(h for h in response.headers.getlist("Set-Cookie") if "gw_session" in h)
    assert "HttpOnly" in header and "SameSite=Lax" in header and "Secure" not in header
    secure_app = make_gateway_app(database_url, SESSION_COOKIE_SECURE=True)
    secure = Actions(secure_app, secure_app.test_client())
    response = secure.sign_in()
    header = next(h for h in response.headers.getlist("Set-Cookie") if "gw_session" in h)
    assert "Secure" in header


def test_logout_revokes_server_side(actions: Actions, app: Flask) -> None:
    actions.create_user()
    actions.sign_in()
    stolen = session_cookie(actions.client)
    assert actions.sign_out().status_code == 302
    replay = app.test_client()
    replay.set_cookie("gw_session", stolen)
    response = replay.get("/settings")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_logout_requires_post_with_csrf(actions: Actions) -> None:
    actions.create_user()
    actions.sign_in()
    # GET only asks (a product's "Sign out" link lands here); it signs nobody out.
    question = actions.client.get("/logout")
    assert question.status_code == 200 and "Sign out?" in question.get_data(as_text=True)
    assert actions.client.post("/logout").status_code == 400
    assert actions.client.get("/").status_code == 200
    # The POST the page makes signs out and says so on the sign-in page.
    assert actions.post("/logout", form_path="/logout").status_code == 302
    assert "You are signed out." in actions.client.get("/login").get_data(as_text=True)
    assert actions.client.get("/logout").location == "/login"  # signed out: nothing to ask


def test_sign_out_everywhere(actions: Actions, app: Flask) -> None:
    actions.create_user()
    other = Actions(app, app.test_client())
    other.sign_in()
    actions.sign_in()
    response = actions.post("/settings/sessions/revoke-all", form_path="/settings/sessions")
    assert response.status_code == 302
    assert actions.client.get("/").status_code == 302
    assert other.client.get("/").status_code == 302


def test_sessions_page_lists_and_revokes_one(actions: Actions, app: Flask) -> None:
    actions.create_user()
    phone_actions = Actions(app, app.test_client())
    phone_client = phone_actions.client
    phone_client.environ_base["HTTP_USER_AGENT"] = PHONE
    phone_actions.sign_in()
    actions.sign_in()
    page = actions.client.get("/settings/sessions").get_data(as_text=True)
    # Device names, not raw user agents; the current session marked; each button labelled.
    assert "Mobile Safari 17 on iOS 17.1 (iPhone)" in page and PHONE not in page
    assert '<span class="current-mark">This browser</span>' in page
    assert re.search(r'Sign out<span class="visually-hidden">\s*this browser</span>', page)
    assert re.search(r'Sign out<span class="visually-hidden">\s*Mobile Safari 17 on iOS', page)
    assert 'datetime="' in page and " UTC</time>" in page  # UTC until the script makes it local
    ids = re.findall(r"/settings/sessions/([0-9a-f]{32})/revoke", page)
    assert len(ids) == 2
    # Revoke the phone's session (the one that is not "this browser").
    with app.app_context():
        from gateway.db import new_session
        from gateway.models import LoginSession

        with new_session() as s:
            phone = s.query(LoginSession).filter_by(user_agent=PHONE).one()
            phone_id = phone.public_id
    actions.post(f"/settings/sessions/{phone_id}/revoke", form_path="/settings/sessions")
    after = actions.client.get("/settings/sessions").get_data(as_text=True)
    assert "Signed out: Mobile Safari 17 on iOS 17.1 (iPhone)" in after
    assert phone_client.get("/").status_code == 302
    assert actions.client.get("/").status_code == 200


def test_sign_out_everywhere_asks_first_then_says_what_happened(
    actions: Actions, app: Flask
) -> None:
    actions.create_user()
    Actions(app, app.test_client()).sign_in()
    actions.sign_in()
    page = actions.client.get("/settings/sessions").get_data(as_text=True)
    assert 'href="/settings/sessions/revoke-all">Sign out everywhere' in page
    question = actions.client.get("/settings/sessions/revoke-all")
    asked = question.get_data(as_text=True)
    assert question.status_code == 200 and "Sign out everywhere?" in asked
    assert "This ends all 2 sessions" in asked and "Yes, sign out everywhere" in asked
    assert actions.client.get("/").status_code == 200  # asking signed nobody out
    everywhere = "/settings/sessions/revoke-all"
    response = actions.post(everywhere, form_path=everywhere)
    assert response.status_code == 302 and response.location == "/login"
    told = actions.client.get("/login").get_data(as_text=True)
    assert "Signed out everywhere: 2 sessions ended." in told


def test_password_change_needs_fresh_auth_and_ends_other_sessions(
    actions: Actions, app: Flask
) -> None:
    actions.create_user()
    laptop = Actions(app, app.test_client())
    laptop.sign_in()
    actions.sign_in()
    # Outside the freshness window: sent to re-authenticate first.
    with actions.client.session_transaction():
        pass
    from datetime import timedelta

    from gateway.db import new_session
    from gateway.models import LoginSession, utcnow

    with app.app_context(), new_session() as s:
        for record in s.query(LoginSession):
            record.authenticated_at = utcnow() - timedelta(hours=1)
        s.commit()
    response = actions.client.get("/settings/password")
    assert response.status_code == 302 and "/settings/reauthenticate" in response.location
    assert actions.reauthenticate("wrong password!!").status_code == 401
    assert actions.reauthenticate().status_code == 302
    new_password = "a brand new passphrase"
    response = actions.post("/settings/password", password=new_password)
    assert response.status_code == 302
    assert actions.client.get("/").status_code == 200  # this browser stays signed in
    assert laptop.client.get("/").status_code == 302  # the other one is signed out
    assert Actions(app, app.test_client()).sign_in(password=PASSWORD).status_code == 401
    assert Actions(app, app.test_client()).sign_in(password=new_password).status_code == 302


def test_revocation_seen_by_second_instance(database_url: str) -> None:
    """Two gateway apps on one database: logout on one is refused on the other at once."""
    first = make_gateway_app(database_url)
    second = make_gateway_app(database_url)
    actions = Actions(first, first.test_client())
    actions.create_user()
    actions.sign_in()
    cookie = session_cookie(actions.client)
    other = second.test_client()
    other.set_cookie("gw_session", cookie)
    assert other.get("/").status_code == 200
    actions.sign_out()
    assert other.get("/").status_code == 302


def test_foreign_or_garbled_cookie_is_anonymous(app: Flask, database_url: str) -> None:
    actions = Actions(app, app.test_client())
    actions.create_user()
    actions.sign_in()
    cookie = session_cookie(actions.client)
    foreign = make_gateway_app(database_url, SECRET_KEY="another-secret-key-of-another-deploy-000")
    client = foreign.test_client()
    client.set_cookie("gw_session", cookie)
    assert client.get("/").status_code == 302
    for value in ("", "garbage", cookie[:-5], cookie + "x", "." * 500):
        fresh = app.test_client()
        fresh.set_cookie("gw_session", value)
        response = fresh.get("/settings")
        assert response.status_code == 302 and response.location.startswith("/login")


PHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


@pytest.mark.parametrize(
    ("change", "told"),
    [
        ("password", "You were signed out because the account's password was changed."),
        ("everywhere", 'You were signed out because someone chose "Sign out everywhere".'),
    ],
    ids=["password-change", "sign-out-everywhere"],
)
def test_browser_signed_out_by_another_is_told_why(
    actions: Actions, app: Flask, change: str, told: str
) -> None:
    actions.create_user()
    laptop = Actions(app, app.test_client())
    laptop.sign_in()
    actions.sign_in()
    if change == "password":
        changed = actions.post("/settings/password", password="a brand new passphrase")
        assert changed.status_code == 302
    else:
        everywhere = "/settings/sessions/revoke-all"
        assert actions.post(everywhere, form_path=everywhere).status_code == 302
    response = laptop.client.get("/settings")
    assert response.status_code == 302 and response.location.startswith("/login")
    page = html.unescape(laptop.client.get(response.location).get_data(as_text=True))
    assert told in page and "Please sign in to see that page." not in page
    # Said once: the next visit to the sign-in page is a plain one.
    assert told not in laptop.client.get("/login").get_data(as_text=True)
