"""Product apps in tests: build one on a fresh (seeded) database, ``Helper`` for small actions,
and disposal of every app a test built (an autouse fixture, registered in tests/conftest.py)."""

from __future__ import annotations

import atexit
import itertools
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from config.products import ProductTestSwitches
from gateway.assertion import FORWARDED_HEADER
from gateway.keys.store import SigningKey
from gateway.proxy.signing import sign_assertion, sign_forwarded
from product_stubs.kit.db import session_factory
from product_stubs.kit.models import OutboxMessage, User
from tests.support import databases
from tests.support.keys import shared_store, write_jwks
from tests.support.switches import PRODUCT as SWITCHES

PRODUCTS = ["segment", "sendgrid"]
PASSWORDS = {
    "segment": {"alice@example.com": "segment-alice-pass", "bob@example.com": "segment-bob-pass"},
    "sendgrid": {
        "dave@example.com": "sendgrid-dave-pass",
        "erin@sendgrid.example": "sendgrid-erin-pass",
    },
}
_sessions = itertools.count()


#: Apps made by the current test, each with its PostgreSQL database (or None) to hand back.
_created: list[tuple[Flask, _PostgresCopy | None]] = []
_sqlite_templates: dict[str, Path] = {}


@dataclass
class _PostgresCopy:
    product: str
    url: str
    restore: list[str]


#: Per product, seeded PostgreSQL databases no app uses now, kept for the next test.
_free: dict[str, list[_PostgresCopy]] = {}


@pytest.fixture(autouse=True)
def _dispose_apps() -> Iterator[None]:
    """Close every engine a test opened; put each PostgreSQL database back to its seeded
    state for the next test."""
    yield
    while _created:
        app, copy = _created.pop()
        session_factory(app).kw["bind"].dispose()
        if copy is not None:
            databases.restore_postgres(copy.url, copy.restore)
            _free.setdefault(copy.product, []).append(copy)


def _seed(module: ModuleType, url: str) -> None:
    """The product's schema and demo data at ``url``, every connection closed after."""
    app = module.create_app({"APP_ENV": "test", "DATABASE_URL": url}, SWITCHES)
    module.seed_demo_data(app)
    session_factory(app).kw["bind"].dispose()  # SQLite: checkpoints the WAL into the file


def _postgres_copy(module: ModuleType, product: str, base: str) -> _PostgresCopy:
    """A seeded database no other app of this process uses now. Making one costs 0.2-0.4 s
    here (``CREATE DATABASE ... TEMPLATE`` syncs files to disk, as does seeding row by row), so
    a test's database is kept after it, put back to its seeded rows in one transaction
    (about 10-20 ms), and handed to the next test; a test with two apps of one product gets
    two. Dropped at exit."""
    free = _free.get(product)
    if free:
        return free.pop()
    template = databases.postgres_template(base, product, lambda url: _seed(module, url))
    url = databases.create_postgres(base, prefix=f"test_{product}", template=template)
    atexit.register(databases.drop_postgres, url)
    return _PostgresCopy(product, url, databases.snapshot_postgres(url))


def _sqlite_copy(module: ModuleType, product: str, tmp_path: Path) -> str:
    """A copy of a once-per-process seeded SQLite file: most tests skip schema and seed work."""
    if product not in _sqlite_templates:
        template = Path(tempfile.mkdtemp(prefix=f"{product}-template-")) / f"{product}.db"
        _seed(module, f"sqlite:///{template}")
        _sqlite_templates[product] = template
    target = tmp_path / f"{product}.db"
    shutil.copyfile(_sqlite_templates[product], target)
    return f"sqlite:///{target}"


def make_product_app(
    module: ModuleType, product: str, tmp_path: Any,
    switches: ProductTestSwitches = SWITCHES, **extra: Any,
) -> Flask:
    """A product app (``module`` is ``product_stubs.segment`` or ``.sendgrid``) on a seeded
    database of its own, CSRF off; the gateway's app is ``console.make_gateway_app``."""
    base = os.environ.get("TEST_DATABASE_URL")
    copy = _postgres_copy(module, product, base) if base else None
    url = copy.url if copy else _sqlite_copy(module, product, Path(tmp_path))
    config = {
        "APP_ENV": "test",
        "DATABASE_URL": url,
        "WTF_CSRF_ENABLED": False,
        # The gateway's public keys, pinned (no gateway runs in these tests).
        "JWKS_FILE": write_jwks(shared_store(), os.path.join(str(tmp_path), "jwks.json")),
    }
    config.update(extra)
    app: Flask = module.create_app(config, switches)
    _created.append((app, copy))
    if not switches.fast_password_hashing:  # the template's hashes were made the fast way
        module.seed_demo_data(app)
    return app


class Helper:
    """Small actions against one product app."""

    def __init__(self, app: Flask, client: FlaskClient, product: str) -> None:
        self.app = app
        self.client = client
        self.product = product
        self.token = app.config["SCIM_TOKEN"]

    # users --------------------------------------------------------------------------------
    @property
    def password_user(self) -> tuple[str, str]:
        return next(iter(PASSWORDS[self.product].items()))

    def password_user_emails(self) -> list[str]:
        return list(PASSWORDS[self.product])

    def user(self, email: str) -> User:
        with session_factory(self.app)() as db:
            user = db.query(User).filter_by(email=email).one()
            db.expunge(user)
            return user

    def sign_in(
        self, email: str, password: str, client: FlaskClient | None = None
    ) -> TestResponse:
        return (client or self.client).post(
            "/login", data={"step": "password", "email": email, "password": password}
        )

    def sign_up(self, email: str, password: str, client: FlaskClient | None = None) -> TestResponse:
        """Sign up as the mailbox owner does: the form, then the mailed link, then a password."""
        client = client or self.client
        assert client.post("/signup", data={"email": email}).status_code == 200
        mails = self.mails(email.strip().lower())
        assert mails, f"no mail to {email}"
        link = re.search(r"/signup/confirm/\S+", mails[-1].body)
        assert link, mails[-1].body
        return client.post(link.group(0), data={"password": password})

    def mails(self, recipient: str) -> list[OutboxMessage]:
        """What the product mailed to ``recipient``, oldest first (its local outbox)."""
        with session_factory(self.app)() as db:
            query = select(OutboxMessage).where(OutboxMessage.recipient == recipient)
            return list(db.scalars(query.order_by(OutboxMessage.id)))

    # API ----------------------------------------------------------------------------------
    def bearer(self, token: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {token or self.token}"}

    def scim(self, method: str, path: str, json: Any = None, **headers: str) -> TestResponse:
        return self.client.open(
            "/scim/v2" + path,
            method=method,
            json=json,
            headers=self.bearer() | headers,
        )

    def create_scim_user(self, email: str, external_id: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
        }
        if external_id:
            body["externalId"] = external_id
        response = self.scim("POST", "/Users", body)
        assert response.status_code == 201, response.get_data(as_text=True)
        data: dict[str, Any] = response.get_json(force=True)
        return data

    def link(self, user_id: str, console_user_id: str, by: str = "x@example.com") -> TestResponse:
        return self.client.post(
            "/internal/link",
            json={
                "product_user_id": user_id,
                "console_user_id": console_user_id,
                "linked_by_email": by,
            },
            headers=self.bearer(),
        )

    def linked_user(self, email: str = "linked@example.com") -> tuple[str, str]:
        """A linked product user; returns (product user id, console user id)."""
        console_id = "console-" + uuid.uuid4().hex[:8]
        return self.create_scim_user(email, console_id)["id"], console_id

    # assertions ---------------------------------------------------------------------------
    def assertion(
        self,
        user_id: str,
        console_id: str,
        path: str = "/",
        method: str = "GET",
        *,
        product: str | None = None,
        key: SigningKey | None = None,
        session_id: str | None = None,
        email: str = "linked@example.com",
        issuer: str | None = None,
        now: int | None = None,
        lifetime: int = 30,
        amr: tuple[str, ...] = ("pwd", "otp"),
    ) -> dict[str, str]:
        """Headers with an assertion as the gateway signs it (its key unless ``key``)."""
        token = sign_assertion(
            key or shared_store().signing_key(),
            issuer=issuer or self.app.config["GATEWAY_PUBLIC_URL"],
            product=product or self.product,
            console_user_id=console_id,
            email=email,
            product_user_id=user_id,
            session_id=session_id or f"gw-session-{next(_sessions)}",
            auth_methods=list(amr),
            method=method,
            path=path,
            now=now,
            lifetime=lifetime,
        )
        return {"X-Identity-Assertion": token}

    def forwarded(
        self,
        path: str,
        method: str = "GET",
        *,
        key: SigningKey | None = None,
        now: int | None = None,
        **values: str,
    ) -> dict[str, str]:
        """X-Forwarded-* as the gateway sends them: with its signature over the values."""
        values = {"for": "203.0.113.7", "proto": "https", "host": "gw.test"} | values
        values.setdefault("prefix", f"/{self.product}")
        headers = {f"X-Forwarded-{name.title()}": value for name, value in values.items()}
        proof = sign_forwarded(
            key or shared_store().signing_key(),
            issuer=self.app.config["GATEWAY_PUBLIC_URL"],
            product=self.product,
            method=method,
            path=path,
            forwarded=values,
            now=now,
        )
        return headers | {FORWARDED_HEADER: proof}


