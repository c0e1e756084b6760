"""Shared fixtures for gateway tests: app on SQLite (or PostgreSQL via TEST_DATABASE_URL),
a client with CSRF switched on, and small action helpers (``actions.login(...)``)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, select, text
from werkzeug.test import TestResponse

from gateway import create_app, db
from gateway.db import Base, new_session
from gateway.identity.passwords import hash_password
from gateway.models import OutboxMessage, User, utcnow
from tests.support.keys import shared_store
from tests.support.stack import postgres_database

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """When TEST_DATABASE_URL is set, a throw-away database next to it for this test run
    (so parallel runs on one server never see each other's rows), schema created once."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield None
        return
    with postgres_database(url) as run_url:
        engine = create_engine(run_url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield run_url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Any, postgres_url: str | None) -> Iterator[str]:
    if postgres_url:
        _truncate(postgres_url)
        yield postgres_url
        return
    url = f"sqlite:///{tmp_path}/gateway.db"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield url


_APPS: list[Flask] = []


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    """Close the connection pools of every app a test built (no leaked connections)."""
    yield
    while _APPS:
        db.engine(_APPS.pop()).dispose()


def make_app(database_url: str, **overrides: Any) -> Flask:
    settings = {
        "APP_ENV": "test",
        "DATABASE_URL": database_url,
        "PASSWORD_HASH_FAST": True,
        "SECRET_KEY": "test-secret-key-not-a-demo-value-0123456789",
        "EMAIL_CHANGE_BACKGROUND_REPAIR": False,
        # Never the demo's instance/keys: one signing-key directory for the test run.
        "ASSERTION_KEY_DIR": shared_store().folder,
    }
    settings.update(overrides)
    application = create_app(settings)
    _APPS.append(application)
    return application


@pytest.fixture
def app(database_url: str) -> Flask:
    return make_app(database_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


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


@pytest.fixture
def actions(app: Flask, client: FlaskClient) -> Actions:
    return Actions(app, client)


def current_code(secret: str) -> str:
    return pyotp.TOTP(secret).now()
