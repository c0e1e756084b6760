"""Header hygiene: spoofed identity headers, hop-by-hop, X-Forwarded-*, cookies, rewriting."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from gateway.products.table import products
from gateway.proxy import headers as hdr
from tests.support.apps import dispose
from tests.support.proxy_gateway import SignedIn, echoed, header_names, sign_in
from tests.support.served import serving

SPOOFABLE = [
    "X-Identity-Assertion",
    "X-Identity-User",
    "X-Identity-Email",
    "X-Forwarded-User",
    "X-Forwarded-Email",
    "X-Forwarded-Preferred-Username",
    "Remote-User",
    "X-Remote-User",
    "X-Auth-Request-Email",
    "X-User",
]


def _variants(name: str) -> list[str]:
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))
    return [name, name.lower(), name.upper(), name.replace("-", "_"), mixed.replace("-", "_", 1)]


SPOOFED_CASES = [(variant, name) for name in SPOOFABLE for variant in _variants(name)]


def _assert_clean(echo: dict, person: SignedIn) -> None:
    """Only the gateway's own assertion reached the product, and it names the real person."""
    for name, value in echo["headers"]:
        if hdr.canonical(name) == "x-identity-assertion":
            continue
        assert not hdr.is_identity_header(name) or name.lower().startswith("x-forwarded-"), name
        assert "evil" not in value, (name, value)
    assert echo["identity"]["email"] == person.email
    assert echo["identity"]["sub"] == person.user_id


@pytest.mark.parametrize(("sent", "name"), SPOOFED_CASES, ids=[c[0] for c in SPOOFED_CASES])
def test_spoofed_identity_headers_never_reach_the_product(
    signed_in: SignedIn, sent: str, name: str
) -> None:
    echo = echoed(signed_in.client.get("/segment/x", headers=[(sent, "evil@attacker.test")]))
    _assert_clean(echo, signed_in)


def test_duplicated_spoofed_headers_are_all_removed(signed_in: SignedIn) -> None:
    spoofed = []
    for name in SPOOFABLE:
        spoofed += [(name, "evil-1"), (name.lower(), "evil-2"), (name.replace("-", "_"), "evil-3")]
    echo = echoed(signed_in.client.get("/segment/x", headers=spoofed))
    _assert_clean(echo, signed_in)


def test_spoofed_headers_are_removed_on_public_paths_too(gateway: Flask) -> None:
    echo = echoed(gateway.test_client().get("/segment/login", headers=[
        (name, "evil") for name in SPOOFABLE]))
    assert not any(hdr.is_identity_header(n) and "evil" in v for n, v in echo["headers"])
    assert echo["identity"] == {"error": "missing assertion"}


def test_connection_header_cannot_remove_the_assertion(signed_in: SignedIn) -> None:
    echo = echoed(
        signed_in.client.get(
            "/segment/x",
            headers={
                "Connection": "X-Identity-Assertion, X-Forwarded-For, X-Forwarded-Prefix, close",
                "X-Identity-Assertion": "evil",
            },
        )
    )
    names = header_names(echo)
    assert {"x-identity-assertion", "x-forwarded-for", "x-forwarded-prefix"} <= names
    _assert_clean(echo, signed_in)


def test_hop_by_hop_request_headers_are_dropped(signed_in: SignedIn) -> None:
    echo = echoed(
        signed_in.client.get(
            "/segment/x",
            headers={
                "Connection": "keep-alive, X-Private-Hop",
                "X-Private-Hop": "secret",
                "Keep-Alive": "timeout=5",
                "TE": "trailers",
                "Trailer": "X-Sum",
                "Upgrade": "websocket",
                "Proxy-Authorization": "Basic Zm9vOmJhcg==",
                "X-Kept": "yes",
            },
        )
    )
    names = header_names(echo)
    for dropped in ("x-private-hop", "keep-alive", "te", "trailer", "upgrade",
                    "proxy-authorization"):
        assert dropped not in names
    assert "x-kept" in names


def test_hop_by_hop_response_headers_are_dropped(signed_in: SignedIn) -> None:
    response = signed_in.client.get("/segment/hop")
    assert response.status_code == 200
    for dropped in ("X-Secret", "Keep-Alive", "Trailer"):
        assert dropped not in response.headers
    assert response.headers["X-Kept"] == "yes"


def test_forwarded_headers_are_set_by_the_gateway(signed_in: SignedIn) -> None:
    echo = echoed(
        signed_in.client.get(
            "/sendgrid/x",
            headers={
                "X-Forwarded-For": "6.6.6.6",
                "X-Forwarded-Host": "evil.test",
                "X-Forwarded-Proto": "https",
                "X-Forwarded-Prefix": "/evil",
                "Forwarded": "for=6.6.6.6",
                "X-Real-IP": "6.6.6.6",
            },
        )
    )
    got = {name.lower(): value for name, value in echo["headers"]}
    assert got["x-forwarded-for"] == "127.0.0.1"
    assert got["x-forwarded-host"] == "localhost"
    assert got["x-forwarded-proto"] == "http"
    assert got["x-forwarded-prefix"] == "/sendgrid"
    assert "forwarded" not in got and "x-real-ip" not in got
    assert got["host"] == echo_host(signed_in, "sendgrid")


def upstream_of(person: SignedIn, product: str) -> str:
    """The upstream the gateway's products table holds for ``product``."""
    entry = products(person.client.application).get(product)
    assert entry is not None
    return entry.upstream


def echo_host(person: SignedIn, product: str) -> str:
    return upstream_of(person, product).split("//", 1)[1]


def test_trusted_proxy_hops_honour_the_load_balancer(
    database_url: str, upstreams: Any, tmp_path: Any
) -> None:
    from tests.support.console import make_gateway_app
    from tests.support.proxy_gateway import gateway_settings

    settings = gateway_settings(upstreams, tmp_path, TRUSTED_PROXY_HOPS=1)
    app = make_gateway_app(database_url, **settings)
    person = sign_in(app, app.test_client())
    echo = echoed(person.client.get("/segment/x", headers={
        "X-Forwarded-For": "6.6.6.6, 203.0.113.9", "X-Forwarded-Proto": "https"}))
    got = {name.lower(): value for name, value in echo["headers"]}
    assert got["x-forwarded-for"] == "203.0.113.9"  # only the hop the balancer vouches for
    assert got["x-forwarded-proto"] == "https"
    dispose(app)


@pytest.mark.parametrize(("peer", "believed"), [("127.0.0.1", True), ("203.0.113.7", False)],
                         ids=["the-edge", "anyone-else"])
def test_forwarded_headers_are_believed_only_from_the_edge(
    database_url: str, upstreams: Any, tmp_path: Any, peer: str, believed: bool
) -> None:
    """With forward-auth on, the edges are FORWARD_AUTH_ALLOW: anyone else who reaches the
    gateway's port cannot choose the client address that is signed and throttled (CWE-348)."""
    from tests.support.console import make_gateway_app
    from tests.support.proxy_gateway import gateway_settings

    app = make_gateway_app(database_url, **gateway_settings(
        upstreams, tmp_path, TRUSTED_PROXY_HOPS=1, FORWARD_AUTH_ALLOW=["127.0.0.1/32"]))
    try:
        person = sign_in(app, app.test_client())
        echo = echoed(person.client.get(
            "/segment/x", environ_base={"REMOTE_ADDR": peer},
            headers={"X-Forwarded-For": "198.51.100.4", "X-Forwarded-Proto": "https",
                     "X-Forwarded-Host": "chosen.test"}))
        got = {name.lower(): value for name, value in echo["headers"]}
        if believed:
            assert (got["x-forwarded-for"], got["x-forwarded-proto"],
                    got["x-forwarded-host"]) == ("198.51.100.4", "https", "chosen.test")
        else:
            assert (got["x-forwarded-for"], got["x-forwarded-proto"],
                    got["x-forwarded-host"]) == (peer, "http", "localhost")
    finally:
        dispose(app)


def test_gateway_session_cookie_is_not_forwarded(signed_in: SignedIn) -> None:
    signed_in.client.set_cookie("product_pref", "dark")
    echo = echoed(signed_in.client.get("/segment/x"))
    cookie = dict(echo["headers"]).get("Cookie", "")
    assert "gw_session" not in cookie
    assert "product_pref=dark" in cookie


def test_request_id_kept_or_generated(signed_in: SignedIn) -> None:
    response = signed_in.client.get("/segment/x", headers={"X-Request-ID": "abc-123-def-456"})
    assert response.headers["X-Request-ID"] == "abc-123-def-456"
    assert dict(echoed(response)["headers"])["X-Request-Id"] == "abc-123-def-456"
    for bad in ("x", "a" * 300, "evil\u2028id-with-unicode", "has space in it"):
        response = signed_in.client.get("/segment/x", headers={"X-Request-ID": bad})
        generated = response.headers["X-Request-ID"]
        assert generated != bad and len(generated) == 32
        assert dict(echoed(response)["headers"])["X-Request-Id"] == generated


def test_repeated_response_headers_survive(signed_in: SignedIn) -> None:
    response = signed_in.client.get("/segment/repeated")
    assert response.headers.getlist("X-Multi") == ["one", "two"]


def test_compressed_body_passes_through_untouched(signed_in: SignedIn) -> None:
    import gzip

    response = signed_in.client.get("/segment/gzip", headers={"Accept-Encoding": "gzip"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(response.data) == b"hello " * 1000


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("/settings", "/segment/settings"),
        ("/settings?a=1#top", "/segment/settings?a=1#top"),
        ("/segment/already", "/segment/already"),
        ("UPSTREAM/workspaces/2", "/segment/workspaces/2"),
        ("http://127.0.0.1:5000/login?next=/segment/", "http://127.0.0.1:5000/login?next=/segment/"),
        ("relative/page", "relative/page"),
        ("https://elsewhere.test/x", "https://elsewhere.test/x"),
    ],
)
def test_location_is_rewritten_under_the_prefix(
    signed_in: SignedIn, location: str, expected: str
) -> None:
    upstream = upstream_of(signed_in, "segment")
    response = signed_in.client.get(
        "/segment/redirect", query_string={"to": location.replace("UPSTREAM", upstream)}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == expected


def test_set_cookie_paths_are_rewritten_and_domain_dropped(signed_in: SignedIn) -> None:
    cookies = signed_in.client.get("/segment/cookies").headers.getlist("Set-Cookie")
    assert cookies == [
        "a=1; Path=/segment/; HttpOnly",
        "b=2; Path=/segment/settings; Secure",
        "c=3",
    ]  # and the product cannot set a cookie named like the gateway session


@pytest.mark.parametrize(
    "value",
    ["=gw_session=x; Path=/", " =gw_session=x", "gw_session", "=x", "; Path=/", ""],
    ids=["empty-name", "blank-name", "no-equals", "empty-name-short", "no-pair", "empty"],
)
def test_nameless_product_cookies_are_dropped(value: str) -> None:
    """A browser sends a nameless cookie as its bare value (``gw_session=x``): a product could
    shadow the gateway's own cookie with one."""
    assert hdr.rewrite_set_cookie(value, "/segment", {"gw_session"}) is None


# --- the same over real sockets: what a real server does with odd header names -------------


@pytest.fixture
def live_gateway(gateway: Flask) -> Iterator[int]:
    with serving(gateway) as server:
        yield server.server_port


def test_spoofed_headers_over_a_real_socket(gateway: Flask, live_gateway: int) -> None:
    client = gateway.test_client()
    person = sign_in(gateway, client)
    cookie = client.get_cookie("gw_session")
    assert cookie is not None
    connection = http.client.HTTPConnection("127.0.0.1", live_gateway, timeout=5)
    connection.putrequest("GET", "/segment/x", skip_accept_encoding=True)
    connection.putheader("Cookie", f"gw_session={cookie.value}; theme=dark")
    for name, _ in SPOOFED_CASES:
        connection.putheader(name, "evil-value")
    connection.putheader("Connection", "X-Identity-Assertion")
    connection.endheaders()
    answer = connection.getresponse()
    echo = json.loads(answer.read())
    connection.close()
    assert answer.status == 200
    _assert_clean(echo, person)
    assert "gw_session" not in dict(echo["headers"]).get("Cookie", "")


@pytest.mark.parametrize(
    "name",
    ["X-Identity-Foo", "x_identity_assertion", "REMOTE_USER", "x-FORWARDED-email",
     "X-Auth-Request-User"],
)
def test_identity_header_names(name: str) -> None:
    assert hdr.is_identity_header(name)


@pytest.mark.parametrize("name", ["Accept", "Cookie", "X-Requested-With", "Authorization"])
def test_ordinary_header_names(name: str) -> None:
    assert not hdr.is_identity_header(name)
