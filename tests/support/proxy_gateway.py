"""A gateway in front of echo upstreams on loopback ports (fixtures ``upstreams``, ``gateway``,
``signed_in``), used by the proxy and security suites.

The echo upstream reports exactly what the product would see (method, path, headers, body hash,
and whether the assertion verifies), so tests assert on the far side of the proxy.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, request
from flask.testing import FlaskClient
from werkzeug.serving import BaseWSGIServer

from gateway.assertion import AssertionVerifier
from gateway.db import new_session
from gateway.models import LoginSession, ProductLink, User, utcnow
from gateway.proxy import forward_answer, wsgi
from tests.support.apps import dispose
from tests.support.console import make_gateway_app
from tests.support.echo import echo_app
from tests.support.keys import StoreJwks, shared_store
from tests.support.served import start_wsgi, stop

MB = 1024 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Upstream:
    product: str
    url: str
    server: BaseWSGIServer


@pytest.fixture(scope="session")
def upstreams() -> Iterator[dict[str, Upstream]]:
    started = {}
    for product in ("segment", "sendgrid"):
        server = start_wsgi(echo_app(product, StoreJwks(shared_store())))
        started[product] = Upstream(product, f"http://127.0.0.1:{server.server_port}", server)
    yield started
    for upstream in started.values():
        stop(upstream.server)


def gateway_settings(upstreams: dict[str, Upstream], tmp_path: Any, **extra: Any) -> dict:
    settings = {
        "SEGMENT_UPSTREAM": upstreams["segment"].url,
        "SENDGRID_UPSTREAM": upstreams["sendgrid"].url,
        "UPSTREAM_CONNECT_TIMEOUT": 1,
        "UPSTREAM_READ_TIMEOUT": 1,
        "SESSION_CACHE_SECONDS": 0,
        # One key directory for the run: the echo upstreams verify with its JWKS.
        "ASSERTION_KEY_DIR": shared_store().folder,
    }
    settings.update(extra)
    return settings


@pytest.fixture
def gateway(database_url: str, upstreams: dict[str, Upstream], tmp_path: Any) -> Iterator[Flask]:
    app = make_gateway_app(database_url, **gateway_settings(upstreams, tmp_path))
    yield app
    dispose(app)


@dataclass
class SignedIn:
    client: FlaskClient
    user_id: str
    email: str
    session_public_id: str
    token: str


def sign_in(
    app: Flask,
    client: FlaskClient,
    email: str = "pat@example.com",
    links: dict[str, str] | None = None,
    methods: str = "pwd,otp",
) -> SignedIn:
    """A verified Console user with a live server-side session, cookie set on ``client``."""
    links = {"segment": "seg-user-1", "sendgrid": "sg-user-1"} if links is None else links
    token = secrets.token_urlsafe(32)
    with app.app_context(), new_session() as db:
        user = User(email=email, password_hash="x", email_verified_at=utcnow())
        db.add(user)
        db.flush()
        record = LoginSession(
            id=hashlib.sha256(token.encode()).hexdigest(), user_id=user.id, auth_methods=methods
        )
        db.add(record)
        for product, product_user_id in links.items():
            db.add(ProductLink(user_id=user.id, product=product, product_user_id=product_user_id))
        db.commit()
        user_id, public_id = user.id, record.public_id
    with client.session_transaction() as flask_session:
        flask_session["sid"] = token
    return SignedIn(client, user_id, email, public_id, token)


@pytest.fixture
def signed_in(gateway: Flask) -> SignedIn:
    return sign_in(gateway, gateway.test_client())


def echoed(response: Any) -> dict:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return dict(json.loads(response.get_data(as_text=True)))


def header_names(echo: dict) -> set[str]:
    return {name.lower() for name, _ in echo["headers"]}


__all__ = ["MB", "echoed", "free_port", "header_names", "sign_in"]


def watch_the_proxy(app: Flask, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """Two lists that fill as requests come: the raw paths the proxy app asked the decision
    about, and the paths that entered Flask's request cycle."""
    asked: list[str] = []
    entered: list[str] = []
    real = wsgi.decide

    def counting(question: Any, *args: Any) -> Any:
        asked.append(question.raw_path)
        return real(question, *args)

    monkeypatch.setattr(wsgi, "decide", counting)  # the built-in proxy
    monkeypatch.setattr(forward_answer, "decide", counting)  # forward-auth
    app.before_request(lambda: entered.append(request.path) and None)
    return asked, entered


def verified(product: str, token: str, method: str, path: str) -> Any:
    """The identity in ``token``, checked as ``product`` checks it (issuer http://edge.test)."""
    verifier = AssertionVerifier(product, "http://edge.test", StoreJwks(shared_store()))
    return verifier.verify(token, method=method, path=path)
