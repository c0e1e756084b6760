"""Real Segment and SendGrid apps on loopback ports (the ``products`` fixture), the gateway
settings that point at them, and ``Person``: actions one browser takes on such a gateway
(``person.link("segment", email, password)``).

The gateway runs in-process behind Flask's test client with CSRF on; every gateway -> product
call (linking checks, SCIM, proxied pages) goes over real HTTP to the product servers.
"""

from __future__ import annotations

import hashlib
import importlib
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import BaseWSGIServer
from werkzeug.test import TestResponse

from gateway.db import new_session
from gateway.models import AuditEvent, LoginSession, ProductLink, User
from gateway.products.table import products as product_table
from product_stubs.kit.db import session_factory
from product_stubs.kit.models import User as ProductUser
from tests.support.console import Actions, make_gateway_app
from tests.support.csrf import csrf_from, csrf_token
from tests.support.keys import shared_store, write_jwks
from tests.support.served import start_wsgi, stop
from tests.support.switches import PRODUCT as SWITCHES

GATEWAY_URL = "http://gateway.test"
#: Demo product users and their product passwords (product_stubs/*/DEMO_USERS).
SEGMENT_ALICE = ("alice@example.com", "segment-alice-pass")
SENDGRID_DAVE = ("dave@example.com", "sendgrid-dave-pass")
SENDGRID_ALICE = ("alice@example.com", "sendgrid-alice-pass")
_SWITCH = re.compile(r'data-product="(\w+)"[^>]*>.*?class="link-state ([\w-]+)"', re.S)


@dataclass
class RunningProduct:
    name: str
    app: Flask
    url: str
    token: str
    server: BaseWSGIServer = field(repr=False)

    def user(self, email: str) -> ProductUser | None:
        with session_factory(self.app)() as db:
            user = db.scalar(select(ProductUser).where(ProductUser.email == email))
            if user is not None:
                db.expunge(user)
            return user


def start_product(name: str, tmp_path: Any) -> RunningProduct:
    module = importlib.import_module(f"product_stubs.{name}")
    token = "test-" + secrets.token_urlsafe(16)
    app: Flask = module.create_app(
        {
            "APP_ENV": "test",
            "DATABASE_URL": f"sqlite:///{tmp_path}/{name}.db",
            "SCIM_TOKEN": token,
            # The gateway's public keys (its key directory is the shared test one).
            "JWKS_FILE": write_jwks(shared_store(), f"{tmp_path}/{name}-jwks.json"),
            "SECRET_KEY": "test-" + secrets.token_urlsafe(24),
            "GATEWAY_PUBLIC_URL": GATEWAY_URL,
        },
        SWITCHES,
    )
    module.seed_demo_data(app)
    server = start_wsgi(app)
    return RunningProduct(name, app, f"http://127.0.0.1:{server.server_port}", token, server)


@pytest.fixture
def products(tmp_path: Any) -> Iterator[dict[str, RunningProduct]]:
    running = {name: start_product(name, tmp_path) for name in ("segment", "sendgrid")}
    yield running
    for product in running.values():
        stop(product.server)
        session_factory(product.app).kw["bind"].dispose()


def gateway_settings(products: dict[str, RunningProduct], tmp_path: Any) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "SESSION_CACHE_SECONDS": 2,  # as deployed: linking must not be defeated by the cache
        "ASSERTION_KEY_DIR": shared_store().folder,
        "LOGIN_MAX_FAILURES": 3,
        "UPSTREAM_CONNECT_TIMEOUT": 1,
        "UPSTREAM_READ_TIMEOUT": 3,
        "PUBLIC_URL": GATEWAY_URL,
    }
    for name, product in products.items():
        upper = name.upper()
        settings |= {
            f"{upper}_UPSTREAM": product.url,
            f"{upper}_SCIM_TOKEN": product.token,
        }
    return settings


@pytest.fixture
def linked_gateway(
    database_url: str, products: dict[str, RunningProduct], tmp_path: Any
) -> Iterator[Flask]:
    """A gateway in front of the real Segment and SendGrid apps (linking over HTTP), its
    throttles out of the way (for tables and fuzzers that send many requests)."""
    settings = gateway_settings(products, tmp_path) | {
        "LOGIN_MAX_FAILURES": 10_000,
        "IP_MAX_ATTEMPTS": 10_000,
    }
    app = make_gateway_app(database_url, **settings)
    yield app
    product_table(app).close()


class Person(Actions):
    """One browser on the gateway: a Console user and what they do."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        super().__init__(app, client)
        self.email = ""

    def sign_up_and_in(self, email: str, totp: bool = False, verified: bool = True) -> User:
        self.email = email
        user = self.create_user(email, totp=totp, verified=verified)
        if verified and not totp:
            assert self.sign_in(email).status_code == 302
        elif not verified:
            self.force_session(user)
        return user

    def force_session(self, user: User) -> None:
        """A live session without the login page (which refuses unverified users)."""
        token = secrets.token_urlsafe(32)
        with self.app.app_context(), new_session() as db:
            db.add(LoginSession(id=hashlib.sha256(token.encode()).hexdigest(), user_id=user.id))
            db.commit()
        with self.client.session_transaction() as flask_session:
            flask_session["sid"] = token

    def link(
        self, product: str, email: str, password: str, next: str = ""
    ) -> TestResponse:
        return self.client.post(
            f"/link/{product}/existing",
            data={
                "csrf_token": csrf_token(self.client, "/"),
                "email": email,
                "password": password,
                "next": next,
            },
        )

    def create(self, product: str, next: str = "") -> TestResponse:
        return self.client.post(
            f"/link/{product}/new",
            data={"csrf_token": csrf_token(self.client, "/"), "next": next},
        )

    def links(self) -> list[tuple[str, str, str]]:
        with self.app.app_context(), new_session() as db:
            user = db.scalars(select(User).where(User.email == self.email)).one()
            rows = db.scalars(select(ProductLink).where(ProductLink.user_id == user.id))
            return sorted((r.product, r.product_user_id, r.origin) for r in rows)

    def events(self, name: str) -> list[AuditEvent]:
        with self.app.app_context(), new_session() as db:
            return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def switcher_state(html: str) -> dict[str, str]:
    """``{"console": "linked", "segment": "not-linked", ...}`` from a page's Product Switcher."""
    nav = html.split('aria-label="Product switcher"', 1)[1].split("</nav>", 1)[0]
    return dict(_SWITCH.findall(nav))


def page(response: TestResponse) -> str:
    return response.get_data(as_text=True)


def product_browser() -> requests.Session:
    browser = requests.Session()
    browser.trust_env = False
    browser.headers["Accept"] = "text/html"
    return browser


def product_login(
    browser: requests.Session, base: str, email: str, password: str | None = None
) -> requests.Response:
    """The product's own identifier-first login page, directly on its port (CSRF included).

    Without ``password`` only the email step is sent (what decides a redirect to the gateway).
    """
    form = browser.get(base + "/login", timeout=5).text
    data = {"csrf_token": csrf_from(form), "email": email, "step": "email"}
    if password is not None:
        data |= {"step": "password", "password": password}
    return browser.post(base + "/login", data=data, allow_redirects=False, timeout=5)
