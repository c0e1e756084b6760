"""Forward-auth endpoints (``/auth/nginx``, ``/auth/forward``, ``/auth/envoy/...``): the same
decision as the built-in proxy, answered in each edge's convention, only to the edge.

Through real nginx and Caddy: tests/edge.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import unquote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError
from werkzeug.test import Client

from gateway.db import new_session
from gateway.models import EmailChange, utcnow
from gateway.proxy import principal
from tests.support.apps import dispose
from tests.support.console import make_gateway_app
from tests.support.corpora import BAD_HOSTS
from tests.support.proxy_gateway import (
    SignedIn,
    Upstream,
    gateway_settings,
    sign_in,
    verified,
    watch_the_proxy,
)
from tests.support.wsgi_call import wsgi_get

EDGE = {"REMOTE_ADDR": "127.0.0.1"}
BROWSER = {"Accept": "text/html"}
API = {"Accept": "application/json"}


@pytest.fixture
def app(database_url: str, upstreams: dict[str, Upstream], tmp_path: Any) -> Iterator[Flask]:
    gateway = make_gateway_app(
        database_url,
        **gateway_settings(upstreams, tmp_path, FORWARD_AUTH_ALLOW=["127.0.0.1/32"],
                           PUBLIC_URL="http://edge.test"),
    )
    yield gateway
    dispose(gateway)


@pytest.fixture
def person(app: Flask) -> SignedIn:
    return sign_in(app, app.test_client())


def nginx(client: FlaskClient, url: str, method: str = "GET", **headers: str) -> Any:
    sent = {"X-Original-Method": method, "X-Original-URL": url, **headers}
    return client.get("/auth/nginx", headers=sent, environ_base=EDGE)


def forward(client: FlaskClient, uri: str, method: str = "GET", **headers: str) -> Any:
    sent = {"X-Forwarded-Method": method, "X-Forwarded-Proto": "https",
            "X-Forwarded-Host": "edge.test", "X-Forwarded-Uri": uri, **headers}
    return client.get("/auth/forward", headers=sent, environ_base=EDGE)


def test_only_the_configured_edge_is_answered(app: Flask, person: SignedIn) -> None:
    for endpoint in ("/auth/nginx", "/auth/forward", "/auth/envoy/segment/x"):
        answer = person.client.get(
            endpoint, environ_base={"REMOTE_ADDR": "203.0.113.7"},
            headers={"X-Original-URL": "/segment/x", "X-Forwarded-Uri": "/segment/x",
                     "X-Original-Method": "GET", "X-Forwarded-Method": "GET"},
        )
        assert answer.status_code == 403, endpoint
        assert "X-Identity-Assertion" not in answer.headers


def test_off_unless_configured(database_url: str, upstreams: dict[str, Upstream],
                               tmp_path: Any) -> None:
    gateway = make_gateway_app(database_url, **gateway_settings(upstreams, tmp_path))
    try:
        person = sign_in(gateway, gateway.test_client())
        assert nginx(person.client, "http://edge.test/segment/x").status_code == 403
        assert forward(person.client, "/segment/x").status_code == 403
    finally:
        dispose(gateway)


def test_forwarded_headers_from_the_edge_do_not_widen_the_allow_list(
    database_url: str, upstreams: dict[str, Upstream], tmp_path: Any
) -> None:
    """Judged on the socket peer, not on X-Forwarded-For the trusted hop rewrote."""
    gateway = make_gateway_app(database_url, **gateway_settings(
        upstreams, tmp_path, FORWARD_AUTH_ALLOW=["10.9.9.9/32"], TRUSTED_PROXY_HOPS=1))
    try:
        person = sign_in(gateway, gateway.test_client())
        answer = person.client.get("/auth/forward", environ_base=EDGE, headers={
            "X-Forwarded-For": "10.9.9.9", "X-Forwarded-Uri": "/segment/x",
            "X-Forwarded-Method": "GET"})
        assert answer.status_code == 403
    finally:
        dispose(gateway)


def test_nginx_allowed_carries_what_the_product_must_receive(person: SignedIn) -> None:
    answer = nginx(person.client, "https://edge.test/SEGMENT//a/./b/../c%20d?q=1", "POST",
                   Cookie="theme=dark")
    assert answer.status_code == 200
    path = "/a/c d"
    assert answer.headers["X-Gateway-Path"] == "/a/c%20d"
    assert unquote(answer.headers["X-Gateway-Path"]) == path
    assert answer.headers["X-Gateway-Path-Unescaped"] == path
    identity = verified("segment", answer.headers["X-Identity-Assertion"], "POST", path)
    assert identity.email == person.email and identity.product_user_id == "seg-user-1"
    assert answer.headers["X-Gateway-Forwarded-Proto"] == "https"
    assert answer.headers["X-Gateway-Forwarded-Host"] == "edge.test"
    assert answer.headers["X-Gateway-Forwarded-Prefix"] == "/segment"
    assert answer.headers["X-Gateway-Forwarded-For"] == "127.0.0.1"
    # The assertion's fwd claim vouches for the forwarded values: no separate proof here.
    assert identity.forwarded == {"for": "127.0.0.1", "proto": "https", "host": "edge.test",
                                  "prefix": "/segment"}
    assert "X-Forwarded-Signature" not in answer.headers


def test_the_gateway_cookie_never_goes_to_the_product(app: Flask, person: SignedIn) -> None:
    cookie = person.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    answer = nginx(person.client, "http://edge.test/segment/x")
    assert answer.status_code == 200
    assert answer.headers["X-Gateway-Cookie"] == ""
    person.client.set_cookie("segment_session", "mine")
    answer = nginx(person.client, "http://edge.test/segment/x")
    assert answer.headers["X-Gateway-Cookie"] == "segment_session=mine"
    assert "gw_session" not in answer.headers["X-Gateway-Cookie"]


def test_nginx_sign_in_link_and_refusals(app: Flask, person: SignedIn) -> None:
    anonymous = app.test_client()
    browser = nginx(anonymous, "http://edge.test/segment/x?a=1", **BROWSER)
    assert browser.status_code == 401
    assert browser.headers["Location"] == "/login?next=%2Fsegment%2Fx%3Fa%3D1"
    api = nginx(anonymous, "http://edge.test/segment/x", **API)
    assert api.status_code == 401 and "Location" not in api.headers
    unlinked = sign_in(app, app.test_client(), email="new@example.com", links={})
    link = nginx(unlinked.client, "http://edge.test/sendgrid/y", **API)
    assert link.status_code == 401
    assert link.headers["Location"] == "/link/sendgrid?next=%2Fsendgrid%2Fy"
    for url in ("/segment/scim/v2/Users", "/segment/x/%2e%2e/scim", "/segment/..;/internal",
                "/segment", "/settings", "/segment/a%3Fb"):
        answer = nginx(person.client, "http://edge.test" + url)
        assert answer.status_code == 403, url
        assert "X-Identity-Assertion" not in answer.headers
    assert nginx(person.client, "http://edge.test/segment/x", method="G E T").status_code == 403
    # nginx (proxy_method GET) and Caddy ask with GET: nothing else is a question here.
    assert person.client.post("/auth/nginx", environ_base=EDGE).status_code == 405
    assert person.client.post("/auth/forward", environ_base=EDGE).status_code == 405
    assert person.client.get("/auth/nginx", environ_base=EDGE).status_code == 403


def test_public_product_paths_get_the_forwarded_proof_but_no_assertion(app: Flask) -> None:
    answer = nginx(app.test_client(), "http://edge.test/segment/login")
    assert answer.status_code == 200
    assert "X-Identity-Assertion" not in answer.headers
    assert answer.headers["X-Forwarded-Signature"]
    assert answer.headers["X-Gateway-Path"] == "/login"


# The Traefik/Caddy convention answers what the built-in proxy would answer.
SAME_AS_BUILT_IN = [
    ("/segment/x", "browser"), ("/segment/x", "api"), ("/segment/scim/v2/Users", "api"),
    ("/segment/..;/scim", "api"), ("/segment", "api"), ("/sendgrid/y?z=1", "browser"),
    ("/SEGMENT/%2e/x", "browser"),
]


@pytest.mark.parametrize(("path", "who"), SAME_AS_BUILT_IN)
@pytest.mark.parametrize("signed", [False, True], ids=["anonymous", "signed-in"])
def test_forward_convention_matches_the_built_in_proxy(
    app: Flask, path: str, who: str, signed: bool
) -> None:
    client = sign_in(app, app.test_client(), links={"segment": "s-1"}).client if signed else (
        app.test_client())
    headers = BROWSER if who == "browser" else API
    built_in = client.get(path, headers=headers)
    answer = forward(client, path, **headers)
    if built_in.status_code == 200:
        assert answer.status_code == 200
        assert answer.headers["X-Gateway-Path"] == built_in.get_json()["path"]
    else:
        assert answer.status_code == built_in.status_code, path
        assert answer.headers.get("Location") == built_in.headers.get("Location")


def test_forward_needs_the_original_uri(person: SignedIn) -> None:
    answer = person.client.get("/auth/forward", environ_base=EDGE,
                               headers={"X-Forwarded-Method": "GET"})
    assert answer.status_code == 400
    bad_host = forward(person.client, "/segment/x", **{"X-Forwarded-Host": "evil test"})
    assert bad_host.status_code == 400
    bad_proto = forward(person.client, "/segment/x", **{"X-Forwarded-Proto": "javascript"})
    assert bad_proto.status_code == 400


@pytest.mark.parametrize("host", [h for _, h in BAD_HOSTS], ids=[i for i, _ in BAD_HOSTS])
def test_a_host_the_gateway_would_refuse_is_never_signed(
    app: Flask, person: SignedIn, host: str
) -> None:
    """Whichever way the edge names the host, the answer is the convention's refusal."""
    session_cookie = person.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert session_cookie is not None
    cookie = {"Cookie": f"{session_cookie.key}={session_cookie.value}"}
    asked = [
        ("/auth/nginx", {"X-Original-Method": "GET", "X-Original-URL": f"http://{host}/segment/x"}),
        ("/auth/nginx", {"X-Original-Method": "GET", "X-Original-URL": "/segment/x",
                         "Host": host}),
        ("/auth/forward", {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/segment/x",
                           "X-Forwarded-Host": host}),
        ("/auth/forward", {"X-Forwarded-Method": "GET", "X-Forwarded-Uri": "/segment/x",
                           "Host": host}),
    ]
    for path, headers in asked:
        headers |= cookie
        answer = wsgi_get(app, path, headers, EDGE)
        expected = 403 if path == "/auth/nginx" else 400
        assert answer.status_code == expected, (path, headers, answer.status_code)
        assert not any(name.startswith("X-Gateway-") for name in answer.headers.keys())
        assert "X-Identity-Assertion" not in answer.headers
        assert "X-Forwarded-Signature" not in answer.headers


HOSTILE = [
    ("X-Original-URL", "http://[broken/segment/x"),
    ("X-Original-URL", "/segment/caf\xe9"),  # latin-1 byte, not UTF-8
    ("X-Original-URL", "segment/x"),
    ("X-Forwarded-Uri", "/segment/caf\xe9"),
    ("X-Forwarded-Uri", "//[broken/x"),
    ("X-Forwarded-Uri", "/segment/%00x"),
    ("X-Forwarded-Uri", "/segment/%252525252525252e%252525252525252e/scim"),
]


@pytest.mark.parametrize(("name", "value"), HOSTILE)
def test_hostile_descriptions_are_refused_never_a_500(person: SignedIn, name: str,
                                                      value: str) -> None:
    sent = {"X-Original-Method": "GET", "X-Forwarded-Method": "GET", name: value}
    endpoint = "/auth/nginx" if name == "X-Original-URL" else "/auth/forward"
    answer = person.client.get(endpoint, headers=sent, environ_base=EDGE)
    assert answer.status_code in (400, 403, 404), answer.status_code
    assert "X-Identity-Assertion" not in answer.headers


def test_envoy_path_prefix_mode(app: Flask, person: SignedIn) -> None:
    answer = person.client.post("/auth/envoy/segment/a/b?x=1", environ_base=EDGE,
                                headers={"X-Forwarded-Proto": "https"})
    assert answer.status_code == 200
    verified("segment", answer.headers["X-Identity-Assertion"], "POST", "/a/b")
    anonymous = app.test_client().get("/auth/envoy/segment/a", environ_base=EDGE,
                                      headers=BROWSER)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == "/login?next=%2Fsegment%2Fa"
    internal = person.client.get("/auth/envoy/segment/scim/v2/Users", environ_base=EDGE)
    assert internal.status_code == 404


# --- one decision, one answer per convention (gateway/proxy/wsgi.py) ---------------------------


@pytest.mark.parametrize("convention", ["nginx", "forward"])
def test_allowed_answer_carries_exactly_what_the_edge_copies(app: Flask, person: SignedIn,
                                                              convention: str) -> None:
    session_cookie = person.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert session_cookie is not None
    cookie = f"segment_session=mine; {session_cookie.key}={session_cookie.value}"
    if convention == "nginx":
        path = "/auth/nginx"
        headers = {"X-Original-Method": "PUT",
                   "X-Original-URL": "https://edge.test/Segment//a/./b?q=1"}
    else:
        path = "/auth/forward"
        headers = {"X-Forwarded-Method": "PUT", "X-Forwarded-Proto": "https",
                   "X-Forwarded-Host": "edge.test", "X-Forwarded-Uri": "/Segment//a/./b?q=1"}
    headers |= {"Cookie": cookie, "X-Request-ID": "edge-request-0001"}
    answer = Client(app, use_cookies=False).get(path, headers=headers, environ_base=EDGE)
    assert answer.status_code == 200
    assert answer.data == b""
    assert answer.headers["Cache-Control"] == "no-store"
    assert answer.headers["X-Gateway-Path"] == "/a/b"
    assert answer.headers["X-Gateway-Cookie"] == "segment_session=mine"
    assert answer.headers["X-Request-ID"] == "edge-request-0001"
    assert answer.headers["X-Gateway-Forwarded-Proto"] == "https"
    assert answer.headers["X-Gateway-Forwarded-Host"] == "edge.test"
    assert answer.headers["X-Gateway-Forwarded-Prefix"] == "/segment"
    claims = verified("segment", answer.headers["X-Identity-Assertion"], "PUT", "/a/b")
    assert claims.email == person.email


def test_every_answer_but_allowed_is_a_refusal(app: Flask, person: SignedIn) -> None:
    # Signed out, a stranger's address, an internal path, an unreadable method: never a 200.
    signed_out = app.test_client()
    assert nginx(signed_out, "http://edge.test/segment/x", **BROWSER).status_code == 401
    stranger = person.client.get("/auth/nginx", environ_base={"REMOTE_ADDR": "203.0.113.7"},
                                 headers={"X-Original-Method": "GET",
                                          "X-Original-URL": "http://edge.test/segment/x"})
    assert stranger.status_code == 403
    assert nginx(person.client, "http://edge.test/segment/scim/v2/Users").status_code == 403
    assert nginx(person.client, "http://edge.test/segment/x", "G E T").status_code == 403
    assert forward(person.client, "/segment/internal/x").status_code == 404


def test_database_down_during_the_decision_is_a_503_never_a_500(
    app: Flask, person: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The session check reaches the database; when it is gone the edge is told "unavailable"
    # with Retry-After, through the gateway's own error answer, never a bare 500.
    def broken(*_args: object) -> None:
        raise OperationalError("SELECT", {}, Exception("the database went away"))

    monkeypatch.setattr(principal, "load_principal", broken)
    answer = nginx(person.client, "http://edge.test/segment/x")
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "5"
    assert "X-Identity-Assertion" not in answer.headers


def test_the_repair_runs_when_only_forward_auth_answers_are_served(
    database_url: str, upstreams: dict[str, Upstream], tmp_path: Any
) -> None:
    # Behind an edge most requests are forward-auth answers: a change left midway by a crash
    # is still rolled back after a restart without waiting for a Console page (the process's
    # background worker, gateway/background.py).
    gateway = make_gateway_app(database_url, **gateway_settings(
        upstreams, tmp_path, FORWARD_AUTH_ALLOW=["127.0.0.1/32"], PUBLIC_URL="http://edge.test",
        background_work=True, EMAIL_CHANGE_STALE_SECONDS=5))
    try:
        person = sign_in(gateway, gateway.test_client())
        long_ago = utcnow() - timedelta(hours=1)
        with gateway.app_context(), new_session() as session:
            interrupted = EmailChange(user_id=person.user_id, old_email=person.email,
                                      new_email="new@example.com", state="applying",
                                      claim="new@example.com", updated_at=long_ago)
            session.add(interrupted)
            session.commit()
            change_id = interrupted.id
        assert nginx(person.client, "http://edge.test/segment/x").status_code == 200
        deadline = time.monotonic() + 10
        state = "applying"
        while state == "applying" and time.monotonic() < deadline:
            time.sleep(0.1)
            with gateway.app_context(), new_session() as session:
                state = session.get(EmailChange, change_id).state  # type: ignore[union-attr]
        assert state == "failed"  # rolled back: nothing had been changed
    finally:
        dispose(gateway)


def test_allowed_answers_are_counted_and_logged_only_when_asked(
    database_url: str, upstreams: dict[str, Upstream], tmp_path: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for log_allowed in (False, True):
        gateway = make_gateway_app(database_url, **gateway_settings(
            upstreams, tmp_path, FORWARD_AUTH_ALLOW=["127.0.0.1/32"],
            PUBLIC_URL="http://edge.test", FORWARD_AUTH_LOG_ALLOWED=log_allowed))
        try:
            person = sign_in(gateway, gateway.test_client(), email=f"log{log_allowed}@example.com",
                             links={"segment": f"seg-log-{log_allowed}"})
            before = _count(200)
            caplog.clear()
            with caplog.at_level(logging.INFO, logger="gateway.access"):
                assert nginx(person.client, "http://edge.test/segment/x").status_code == 200
                assert nginx(gateway.test_client(), "http://edge.test/segment/x").status_code == 401
            assert _count(200) == before + 1
            lines = [json.loads(r.getMessage()) for r in caplog.records
                     if r.name == "gateway.access"]
            assert [line["status"] for line in lines] == ([200, 401] if log_allowed else [401])
        finally:
            dispose(gateway)


def _count(status: int) -> float:
    value = REGISTRY.get_sample_value(
        "gateway_requests_total", {"method": "GET", "area": "forward_auth", "status": str(status)})
    return value or 0.0


def test_a_forward_auth_answer_asks_the_decision_once_and_never_enters_flask(
    app: Flask, person: SignedIn, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked, entered = watch_the_proxy(app, monkeypatch)
    assert nginx(person.client, "http://edge.test/segment/x").status_code == 200
    assert forward(person.client, "/segment/scim/v2/Users").status_code == 404
    assert asked == ["/segment/x", "/segment/scim/v2/Users"] and entered == []
