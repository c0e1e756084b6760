"""Gateway test helpers: build a gateway app for a test database (``make_gateway_app``), and
``Actions`` (what a person does, in a few words); shared by every gateway suite."""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update
from werkzeug.test import TestResponse

from config.gateway import GatewayTestSwitches
from gateway import background, create_app
from gateway import db as gateway_db
from gateway.db import new_session
from gateway.identity.passwords import hash_password
from gateway.models import LoginSession, OutboxMessage, User, utcnow
from tests.support import switches as switches_for
from tests.support.csrf import csrf_token, without_csrf
from tests.support.keys import shared_store

EMAIL = "user@example.com"
PASSWORD = "correct horse battery staple"


#: Every app a test built, disposed of after the test (``tests/conftest.py``).
_APPS: list[Flask] = []


def make_gateway_app(
    database_url: str, *, background_work: bool = False,
    switches: GatewayTestSwitches = switches_for.GATEWAY, **overrides: Any
) -> Flask:
    """A gateway app on ``database_url`` with test settings (``overrides`` win); disposed of
    after the test. Product apps have their own factory: ``product_apps.make_product_app``."""
    settings = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-not-a-demo-value-0123456789",
        # Never the demo's instance/keys: one signing-key directory for the test run.
        "ASSERTION_KEY_DIR": shared_store().folder,
        # Each app its own revocation counter: apps of other tests and workers never empty
        # this one's session-check cache (tests of the shared file: test_revocation_*.py).
        "SESSION_EPOCH_FILE": "",
    }
    settings.update(overrides)
    application = create_app(settings, dataclasses.replace(switches,
                                                           background_work=background_work))
    _APPS.append(application)
    return application


def dispose_built_apps() -> None:
    while _APPS:
        application = _APPS.pop()
        background.stop(application)
        gateway_db.engine(application).dispose()


class Actions:
    """What a person does, in a few words, in process (a Flask test client with CSRF on):
    ``actions.sign_in(email)``. The journeys' ``tests.support.person.Person`` does the same
    over HTTP under the same verbs (docs/testing.md, "One vocabulary")."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app = app
        self.client = client

    def post(self, path: str, form_path: str | None = None, **data: Any) -> TestResponse:
        data.setdefault("csrf_token", csrf_token(self.client, form_path or path))
        return self.client.post(path, data=data)

    # arranged straight in the database ----------------------------------------------------
    def create_user(
        self, email: str = EMAIL, password: str = PASSWORD, verified: bool = True,
        totp: bool = False,
    ) -> User:
        with self.app.app_context(), new_session() as session:
            user = User(email=email, password_hash=hash_password(password))
            if verified:
                user.email_verified_at = utcnow()
            if totp:
                user.totp_secret = pyotp.random_base32()
                user.totp_enabled_at = utcnow()
            session.add(user)
            session.commit()
            return user

    def user(self, email: str) -> User:
        with self.app.app_context(), new_session() as session:
            return session.scalars(select(User).where(User.email == email)).one()

    # what a person does, through the pages ------------------------------------------------
    def sign_up(self, email: str = EMAIL, password: str = PASSWORD) -> TestResponse:
        return self.post("/signup", email=email, password=password)

    def verify(self, email: str = EMAIL, password: str = "") -> TestResponse:
        """Open the verification link mailed to ``email`` and confirm it (a browser other
        than the one that signed up types the ``password`` too)."""
        link = self.mailed_link(email, "/verify-email")
        data = {"token": link.split("token=", 1)[1]} | ({"password": password} if password else {})
        return self.post("/verify-email", form_path=link, **data)

    def sign_in(self, email: str = EMAIL, password: str = PASSWORD, next: str = "") -> TestResponse:
        path = "/login" + (f"?next={next}" if next else "")
        return self.post("/login", form_path=path, email=email, password=password, next=next)

    def enter_code(self, code: str) -> TestResponse:
        """The second step of signing in: a code from the authenticator app (or a recovery
        code)."""
        return self.post("/login/2fa", code=code)

    def sign_out(self) -> TestResponse:
        return self.post("/logout", form_path="/settings")

    def reauthenticate(self, password: str = PASSWORD, code: str = "") -> TestResponse:
        return self.post("/settings/reauthenticate", password=password, code=code)

    def enrol_totp(self) -> tuple[str, list[str]]:
        """Set up an authenticator app from the key the page shows; the key and the recovery
        codes shown once after."""
        page = self.client.get("/settings/2fa/enable").get_data(as_text=True)
        shown = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page)
        assert shown, page[:500]
        secret = shown.group(1).replace(" ", "")
        answer = self.post("/settings/2fa/enable", code=pyotp.TOTP(secret).now())
        assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
        codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", answer.get_data(as_text=True))
        return secret, codes

    # what the person reads ----------------------------------------------------------------
    def mails(self, recipient: str) -> list[OutboxMessage]:
        with self.app.app_context(), new_session() as session:
            query = select(OutboxMessage).where(OutboxMessage.recipient == recipient)
            return list(session.scalars(query.order_by(OutboxMessage.id)))

    def mailed_link(self, recipient: str, marker: str = "") -> str:
        """The path of the newest link containing ``marker`` mailed to ``recipient`` (the
        local outbox); without ``marker``, the first link of the last mail."""
        for mail in reversed(self.mails(recipient)):
            for path in re.findall(r"https?://[^/\s]+(/\S+)", mail.body):
                if marker in path:
                    return str(path)
        raise AssertionError(f"no link with {marker!r} mailed to {recipient}")


def sign_up_in_a_new_browser(app: Flask, email: str, password: str) -> str:
    """Sign up from a fresh browser; the answer page's HTML without its CSRF token and with
    the address as ``EMAIL``, so the pages of two sign-ups compare equal when nothing on them
    tells the addresses apart."""
    visitor = Actions(app, app.test_client())
    response = visitor.sign_up(email, password)
    assert response.status_code == 200
    return without_csrf(response.get_data(as_text=True)).replace(email, "EMAIL")


def lock_out(app: Flask, email: str = EMAIL) -> None:
    """Someone on another address types wrong passwords until the account is locked."""
    stranger = Actions(app, app.test_client())
    stranger.client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        stranger.sign_in(email, password="wrong password!!")
    assert stranger.sign_in(email).status_code == 429


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def age_sessions(app: Flask) -> None:
    """Time passes: the last proof of identity is older than the re-authentication window."""
    with app.app_context(), new_session() as session:
        session.execute(update(LoginSession).values(authenticated_at=utcnow() - timedelta(hours=1)))
        session.commit()
