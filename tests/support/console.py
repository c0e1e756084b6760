"""Gateway test helpers: build an app for a test database, read a form's CSRF token, and
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
from tests.support.keys import shared_store

PASSWORD = "correct horse battery staple"


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


#: Every app a test built, disposed of after the test (``tests/conftest.py``).
_APPS: list[Flask] = []


def make_app(database_url: str, *, background_work: bool = False,
             switches: GatewayTestSwitches = switches_for.GATEWAY, **overrides: Any) -> Flask:
    settings = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key-not-a-demo-value-0123456789",
        # Never the demo's instance/keys: one signing-key directory for the test run.
        "ASSERTION_KEY_DIR": shared_store().folder,
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


def csrf_token(client: FlaskClient, path: str) -> str:
    """The CSRF token from the form on ``path`` (tests keep CSRF switched on)."""
    page = client.get(path).get_data(as_text=True)
    match = _CSRF.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1)


class Actions:
    """What a person does, in a few words: ``actions.login(email)``."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.app = app
        self.client = client

    def post(self, path: str, form_path: str | None = None, **data: Any) -> TestResponse:
        data.setdefault("csrf_token", csrf_token(self.client, form_path or path))
        return self.client.post(path, data=data)

    def create_user(
        self, email: str = "user@example.com", password: str = PASSWORD, verified: bool = True,
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

    def login(
        self, email: str = "user@example.com", password: str = PASSWORD, next: str = ""
    ) -> TestResponse:
        path = "/login" + (f"?next={next}" if next else "")
        return self.post("/login", form_path=path, email=email, password=password, next=next)

    def login_2fa(self, code: str) -> TestResponse:
        return self.post("/login/2fa", code=code)

    def logout(self) -> TestResponse:
        return self.post("/logout", form_path="/settings")

    def reauthenticate(self, password: str = PASSWORD, code: str = "") -> TestResponse:
        return self.post("/settings/reauthenticate", password=password, code=code)

    def mails(self, recipient: str) -> list[OutboxMessage]:
        with self.app.app_context(), new_session() as session:
            query = select(OutboxMessage).where(OutboxMessage.recipient == recipient)
            return list(session.scalars(query.order_by(OutboxMessage.id)))

    def last_link(self, recipient: str) -> str:
        """The path of the last link mailed to ``recipient`` (the local outbox)."""
        body = self.mails(recipient)[-1].body
        match = re.search(r"https?://[^/\s]+(/\S+)", body)
        assert match, body
        return match.group(1)


def lock_out(app: Flask, email: str = "user@example.com") -> None:
    """Someone on another address types wrong passwords until the account is locked."""
    stranger = Actions(app, app.test_client())
    stranger.client.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        stranger.login(email, password="wrong password!!")
    assert stranger.login(email).status_code == 429


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def age_sessions(app: Flask) -> None:
    """Time passes: the last proof of identity is older than the re-authentication window."""
    with app.app_context(), new_session() as session:
        session.execute(update(LoginSession).values(authenticated_at=utcnow() - timedelta(hours=1)))
        session.commit()
