"""Forward-auth endpoints (``/auth/nginx``, ``/auth/forward``, ``/auth/envoy/...``): the same
decision as the built-in proxy, answered in each edge's convention, only to the edge.

Through real nginx and Caddy: tests/edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway.assertion import AssertionVerifier
from tests.support.apps import dispose
from tests.support.console import make_app
from tests.support.keys import StoreJwks, shared_store
from tests.support.proxy_gateway import SignedIn, Upstream, gateway_settings, sign_in

EDGE = {"REMOTE_ADDR": "127.0.0.1"}
BROWSER = {"Accept": "text/html"}
API = {"Accept": "application/json"}


@pytest.fixture
def app(database_url: str, upstreams: dict[str, Upstream], tmp_path: Any) -> Iterator[Flask]:
    gateway = make_app(
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


def verified(product: str, token: str, method: str, path: str) -> Any:
    verifier = AssertionVerifier(product, "http://edge.test", StoreJwks(shared_store()))
    return verifier.verify(token, method=method, path=path)


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
    gateway = make_app(database_url, **gateway_settings(upstreams, tmp_path))
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
    gateway = make_app(database_url, **gateway_settings(
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
