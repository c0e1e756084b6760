"""Prefix routing, sign-in handling, path normalisation and internal paths."""

from __future__ import annotations

from collections.abc import Iterator
from time import monotonic
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask

from gateway import db as gateway_db
from gateway.models import LoginSession, User, utcnow
from gateway.products.table import BadPath, normalise_path
from gateway.proxy import principal
from tests.support.apps import dispose
from tests.support.console import make_gateway_app
from tests.support.corpora import BACKSLASH_PATH_CASES, BAD_HOSTS
from tests.support.proxy_gateway import (
    SignedIn,
    Upstream,
    echoed,
    gateway_settings,
    sign_in,
    watch_the_proxy,
)
from tests.support.wsgi_call import wsgi_get

JSON = {"Accept": "application/json"}


@pytest.mark.parametrize(
    ("public", "product", "upstream_path"),
    [
        ("/segment/", "segment", "/"),
        ("/segment/workspaces/1", "segment", "/workspaces/1"),
        ("/sendgrid/settings", "sendgrid", "/settings"),
        ("/SEGMENT/Settings", "segment", "/Settings"),
        ("/segment//a///b", "segment", "/a/b"),
        ("/segment/./a/../b/", "segment", "/b/"),
        ("/%73egment/x", "segment", "/x"),
        ("/console/../sendgrid/x", "sendgrid", "/x"),
        ("/segment/caf%C3%A9/%E2%9C%93", "segment", "/café/✓"),
        ("/segment/a%20b", "segment", "/a b"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_prefix_routing(
    signed_in: SignedIn, public: str, product: str, upstream_path: str
) -> None:
    echo = echoed(signed_in.client.get(public))
    assert echo["product"] == product
    assert echo["path"] == upstream_path
    # The product verified the assertion for exactly the path it received.
    assert echo["identity"]["email"] == signed_in.email


def test_query_string_and_methods(signed_in: SignedIn) -> None:
    echo = echoed(signed_in.client.get("/segment/search?q=a%20b&q=c&x=%2F"))
    assert echo["query"] == "q=a%20b&q=c&x=%2F"
    for method in ("post", "put", "delete", "patch"):
        echo = echoed(getattr(signed_in.client, method)("/segment/thing", data=b"payload"))
        assert echo["method"] == method.upper()
        assert echo["body_size"] == 7
        assert echo["identity"]["puid"] == "seg-user-1"


def test_head_request_has_no_body(signed_in: SignedIn) -> None:
    response = signed_in.client.head("/segment/anything")
    assert response.status_code == 200
    assert response.data == b""
    assert response.headers["X-Upstream"] == "segment"


def test_bare_prefix_redirects_to_slash(signed_in: SignedIn) -> None:
    response = signed_in.client.get("/segment?a=1")
    assert response.status_code == 308
    assert response.headers["Location"] == "/segment/?a=1"


def test_gateway_paths_are_not_proxied(gateway: Flask) -> None:
    assert gateway.test_client().get("/segmentation").status_code == 404
    assert gateway.test_client().get("/healthz").get_json()["status"] == "ok"


def test_not_signed_in_browser_redirects_to_login(gateway: Flask) -> None:
    response = gateway.test_client().get(
        "/segment/settings?tab=2", headers={"Accept": "text/html,application/xhtml+xml"}
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == ["/segment/settings?tab=2"]


def test_not_signed_in_api_client_gets_401(gateway: Flask) -> None:
    for accept in ("application/json", "*/*", ""):
        response = gateway.test_client().get("/sendgrid/api/x", headers={"Accept": accept})
        assert response.status_code == 401
        assert response.get_json()["error"] == "not_authenticated"


def test_revoked_or_unknown_session_is_not_signed_in(gateway: Flask, signed_in: SignedIn) -> None:
    from gateway.db import new_session
    from gateway.models import LoginSession, utcnow

    with gateway.app_context(), new_session() as db:
        record = db.query(LoginSession).filter_by(public_id=signed_in.session_public_id).one()
        record.revoked_at = utcnow()
        db.commit()
    assert signed_in.client.get("/segment/x", headers=JSON).status_code == 401
    with signed_in.client.session_transaction() as flask_session:
        flask_session["sid"] = "x" * 43
    assert signed_in.client.get("/segment/x", headers=JSON).status_code == 401


def test_unlinked_product_redirects_to_link_page(gateway: Flask) -> None:
    person = sign_in(gateway, gateway.test_client(), links={"segment": "seg-9"})
    response = person.client.get("/sendgrid/stats?d=1", headers={"Accept": "text/html"})
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert location.path == "/link/sendgrid"
    assert parse_qs(location.query)["next"] == ["/sendgrid/stats?d=1"]
    assert echoed(person.client.get("/segment/"))["identity"]["puid"] == "seg-9"


@pytest.mark.parametrize("path", ["/segment/login", "/segment/signup", "/segment/static/app.css"])
def test_public_product_pages_need_no_session_and_carry_no_assertion(
    gateway: Flask, path: str
) -> None:
    echo = echoed(gateway.test_client().get(path))
    assert echo["identity"] == {"error": "missing assertion"}
    assert "x-identity-assertion" not in {k.lower() for k, _ in echo["headers"]}


def test_public_page_strips_a_client_assertion(gateway: Flask) -> None:
    echo = echoed(gateway.test_client().get("/segment/login", headers={
        "X-Identity-Assertion": "forged"}))
    assert echo["identity"] == {"error": "missing assertion"}


@pytest.mark.parametrize(
    "path",
    [
        "/segment/scim/v2/Users",
        "/segment/SCIM/v2/Users",
        "/segment/scim./v2/Users",
        "/segment//scim/v2/Users",
        "/segment/x/../scim/v2/Users",
        "/segment/x/%2e%2e/scim/v2/Users",
        "/segment/x%2f..%2fscim/v2/Users",
        "/segment/%252e%252e/scim/v2/Users",
        "/segment/%2573cim/v2/Users",
        "/SEGMENT/%73cim/v2/Users",
        "/segment/\uff53\uff43\uff49\uff4d/v2/Users",
        "/segment/internal/verify-credentials",
        "/segment/Internal/link",
        "/segment/healthz",
        "/sendgrid/readyz",
        "/segment/static/../scim/v2/Users",
        "/segment/login/../internal/x",
    ],
)
def test_internal_paths_are_never_reachable(gateway: Flask, path: str) -> None:
    person = sign_in(gateway, gateway.test_client())
    for client in (gateway.test_client(), person.client):
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 404, path
        assert response.headers.get("X-Upstream") is None


@pytest.mark.parametrize(
    "path",
    [
        "/segment/%00x",
        "/segment/a%0d%0aSet-Cookie:x",
        "/segment/%25252525252e",
        "/segment/scim;x=1/v2/Users",  # matrix parameters: read as ``scim`` by some servers
        "/segment/.../scim/v2/Users",  # a segment that compares as nothing
        "/segment/x%5c..%5cscim/v2/Users",  # a backslash: edges read it as a character
    ],
)
def test_hostile_paths_get_400(signed_in: SignedIn, path: str) -> None:
    response = signed_in.client.get(path, headers={"Accept": "application/json"})
    assert response.status_code == 400


@pytest.mark.parametrize("host", [h for _, h in BAD_HOSTS], ids=[i for i, _ in BAD_HOSTS])
@pytest.mark.parametrize("path", ["/segment/x", "/segment/login", "/login", "/nope"])
def test_a_host_no_url_can_be_built_from_is_400_and_never_forwarded(
    gateway: Flask, signed_in: SignedIn, path: str, host: str
) -> None:
    """The gateway would sign such a Host as X-Forwarded-Host, and the product fail on it.
    Called without the test client, which raises on such a Host itself (``wsgi_call``)."""
    name = gateway.config["SESSION_COOKIE_NAME"]
    session_cookie = signed_in.client.get_cookie(name)
    assert session_cookie is not None
    for accept in ("text/html", "application/json"):
        response = wsgi_get(gateway, path, {
            "Host": host, "Accept": accept, "Cookie": f"{name}={session_cookie.value}"})
        assert response.status_code == 400, (path, response.status_code)
        assert response.headers.get("X-Upstream") is None


@pytest.mark.parametrize("host", [h for _, h in BAD_HOSTS], ids=[i for i, _ in BAD_HOSTS])
@pytest.mark.parametrize("path", ["/settings", "/segment/x", "/login", "/nope"])
def test_a_host_no_url_can_be_built_from_is_400_signed_out(
    gateway: Flask, path: str, host: str
) -> None:
    """Signed out, the sign-in redirect builds a URL from the Host: refused before that."""
    for accept in ("text/html", "application/json"):
        response = wsgi_get(gateway, path, {"Host": host, "Accept": accept})
        assert response.status_code == 400, (path, response.status_code)


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("/", "/"),
        ("/a/b/", "/a/b/"),
        ("/a/./b/..", "/a/"),
        ("/../../a", "/a"),
        ("/a%2F%2e%2E/b", "/b"),
        ("/a/%252e%252e/b", "/b"),
    ],
)
def test_normalise_path(raw: str, normal: str) -> None:
    assert normalise_path(raw) == normal


def test_normalise_path_refuses_control_characters() -> None:
    with pytest.raises(BadPath):
        normalise_path("/a%00b")


@pytest.mark.parametrize("path", [p for _, p in BACKSLASH_PATH_CASES],
                         ids=[i for i, _ in BACKSLASH_PATH_CASES])
def test_backslash_paths_are_400_and_never_forwarded(signed_in: SignedIn, path: str) -> None:
    """nginx and Caddy read ``\\`` as a character, so the gateway must not read it as ``/``:
    the two would pick different products or paths for one request."""
    for accept in ("text/html", "application/json"):
        response = signed_in.client.get(path, headers={"Accept": accept})
        assert response.status_code == 400, (path, response.status_code)
        assert response.headers.get("X-Upstream") is None


def test_one_database_round_trip_per_proxied_request(signed_in: SignedIn) -> None:
    """Session, user and product links in a single SELECT (the bench requirement)."""
    from sqlalchemy import event

    app = signed_in.client.application
    engine = gateway_db.engine(app)
    echoed(signed_in.client.get("/segment/warm"))  # last_seen_at is fresh from here on
    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        echoed(signed_in.client.get("/segment/x", headers=JSON))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) == 1
    assert len(statements) <= 1, statements


@pytest.fixture
def caching_gateway(database_url: str, upstreams: dict[str, Upstream], tmp_path: Any
                    ) -> Iterator[Flask]:
    app = make_gateway_app(database_url, **gateway_settings(upstreams, tmp_path,
                                                    SESSION_CACHE_SECONDS=60))
    yield app
    dispose(app)


def test_session_cache_bounds_revocation_delay(
    caching_gateway: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    signed_in = sign_in(caching_gateway, caching_gateway.test_client())
    echoed(signed_in.client.get("/segment/x"))
    with caching_gateway.app_context(), gateway_db.new_session() as session:
        record = session.query(LoginSession).filter_by(public_id=signed_in.session_public_id)
        record.one().revoked_at = utcnow()
        session.commit()
    echoed(signed_in.client.get("/segment/x"))  # cached: still served within the TTL
    later = monotonic() + 61
    monkeypatch.setattr(principal, "monotonic", lambda: later)
    assert signed_in.client.get("/segment/x", headers=JSON).status_code == 401


def test_proxy_answers_carry_request_id_security_headers_and_metrics(
    gateway: Flask, signed_in: SignedIn
) -> None:
    # The proxy answers in front of Flask: its redirects, refusals and forwarded pages still
    # carry what every gateway answer carries.
    anonymous = gateway.test_client()
    login = anonymous.get("/segment/x", headers={"Accept": "text/html",
                                                 "X-Request-ID": "proxy-req-0001"})
    assert login.status_code == 302
    assert login.headers["X-Request-ID"] == "proxy-req-0001"
    assert "script-src 'self'" in login.headers["Content-Security-Policy"]
    assert login.headers["Cache-Control"] == "no-store"
    assert "Cookie" in login.headers["Vary"]
    internal = signed_in.client.get("/segment/scim/v2/Users", headers={"Accept": "text/html"})
    assert internal.status_code == 404
    assert internal.headers["X-Request-ID"]
    assert internal.headers["X-Frame-Options"] == "DENY"
    assert "There is nothing here." in internal.get_data(as_text=True)
    page = signed_in.client.get("/segment/x")
    assert page.status_code == 200
    assert page.headers["Content-Security-Policy"] == "frame-ancestors 'none'"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["X-Request-ID"]
    metrics = signed_in.client.get("/metrics").get_data(as_text=True)
    assert 'gateway_requests_total{area="proxy",method="GET",status="200"}' in metrics
    assert 'gateway_requests_total{area="proxy",method="GET",status="404"}' in metrics


def test_a_proxied_request_asks_the_decision_once_and_never_enters_flask(
    gateway: Flask, signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked, entered = watch_the_proxy(gateway, monkeypatch)
    echoed(signed_in.client.get("/segment/x"))
    assert asked == ["/segment/x"] and entered == []
    assert signed_in.client.get("/healthz").status_code == 200  # the Console's own paths
    assert entered == ["/healthz"]


def test_disabled_account_is_refused_by_the_proxy_even_with_a_live_session_row(
    gateway: Flask, signed_in: SignedIn
) -> None:
    echoed(signed_in.client.get("/segment/x"))
    with gateway.app_context(), gateway_db.new_session() as session:
        user = session.get(User, signed_in.user_id)
        assert user is not None
        user.disabled_at = utcnow()  # the session row stays unrevoked
        session.commit()
    assert signed_in.client.get("/segment/x", headers=JSON).status_code == 401
    assert signed_in.client.get("/settings").status_code == 302


def test_disabling_in_this_process_drops_the_cached_check_at_once(
    caching_gateway: Flask,
) -> None:
    from gateway.identity import interventions

    signed_in = sign_in(caching_gateway, caching_gateway.test_client())
    echoed(signed_in.client.get("/segment/x"))
    with caching_gateway.test_request_context():
        from gateway.db import db

        owner = User(email="owner@example.com", password_hash="x", role="owner")
        db().add(owner)
        target = db().get(User, signed_in.user_id)
        assert target is not None
        interventions.disable(owner, target, "compromised")
    assert signed_in.client.get("/segment/x", headers=JSON).status_code == 401
