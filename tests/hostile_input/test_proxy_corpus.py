"""Proxy advisories, against a real upstream on a loopback port (the echo product):

- CWE-290 (authentication bypass by spoofing): identity headers in every case, underscore and
  duplicate variant never reach the product; only the gateway's own assertion does.
- CWE-444 (inconsistent interpretation of HTTP requests): ``Connection:`` naming headers.
- CWE-22 / CWE-41 / CWE-178 / CWE-176 (traversal, path equivalence, case, unicode): internal
  product paths stay unreachable.
- CWE-20 query and fragment tricks on public product routes.
- CWE-807 (security decision on untrusted input): health probes whatever the User-Agent.
"""

from __future__ import annotations

import pytest
from flask import Flask

from gateway.proxy import headers as hdr
from tests.support.corpora import (
    IDENTITY_NAMES,
    INTERNAL_PATH_CASES,
    PUBLIC_TRICK_CASES,
    identity_header_variants,
)
from tests.support.proxy_gateway import SignedIn, echoed, header_names, sign_in

SPOOFED = [
    pytest.param(headers, id=f"CWE-290-{name}-{kind}")
    for name in IDENTITY_NAMES
    for kind, headers in identity_header_variants(name)
]


def _assert_clean(echo: dict, person: SignedIn | None) -> None:
    for name, value in echo["headers"]:
        assert "evil" not in value, (name, value)
        if hdr.canonical(name) != "x-identity-assertion" and not name.lower().startswith(
            "x-forwarded-"
        ):
            assert not hdr.is_identity_header(name), name
    if person is None:
        assert echo["identity"] == {"error": "missing assertion"}
    else:
        assert (echo["identity"]["email"], echo["identity"]["sub"]) == (
            person.email, person.user_id)


@pytest.mark.parametrize("headers", SPOOFED)
def test_spoofed_identity_headers(gateway: Flask, headers: list[tuple[str, str]]) -> None:
    person = sign_in(gateway, gateway.test_client())
    _assert_clean(echoed(person.client.get("/segment/x", headers=headers)), person)
    _assert_clean(echoed(gateway.test_client().get("/segment/login", headers=headers)), None)


CONNECTION = [
    pytest.param("X-Injected", ["x-injected"], id="CWE-444-connection-names-custom-header"),
    pytest.param("X-Identity-Assertion", [], id="CWE-444-connection-names-assertion"),
    pytest.param("x-identity-assertion, X-Forwarded-For, X-Forwarded-Prefix, X-Request-ID",
                 [], id="CWE-444-connection-names-gateway-headers"),
    pytest.param("close, X-Injected, keep-alive", ["x-injected", "keep-alive"],
                 id="CWE-444-connection-mixed-tokens"),
    pytest.param("X_Injected", ["x-injected", "x_injected"],
                 id="CWE-444-connection-underscore"),
    pytest.param("Cookie", ["cookie"], id="CWE-444-connection-names-cookie"),
]
#: Set by the gateway itself: never removed by anything a client names in ``Connection:``.
GATEWAY_HEADERS = {"x-identity-assertion", "x-forwarded-for", "x-forwarded-proto",
                   "x-forwarded-host", "x-forwarded-prefix", "x-request-id"}


@pytest.mark.parametrize(("connection", "dropped"), CONNECTION)
def test_connection_header_names(signed_in: SignedIn, connection: str, dropped: list[str]) -> None:
    sent = [("Connection", connection), ("X-Injected", "evil"), ("Keep-Alive", "timeout=5"),
            ("X-Identity-Assertion", "evil"), ("Cookie", "pref=evil")]
    echo = echoed(signed_in.client.get("/segment/x", headers=sent))
    names = header_names(echo)
    assert GATEWAY_HEADERS <= names
    assert "connection" not in names or "evil" not in dict(echo["headers"]).get("Connection", "")
    for name in dropped:
        assert name not in names, name
    assert echo["identity"]["email"] == signed_in.email
    assert not any(v == "evil" and hdr.is_identity_header(n) for n, v in echo["headers"])


INTERNAL_PATHS = [pytest.param(path, id=case_id) for case_id, path in INTERNAL_PATH_CASES]


@pytest.mark.parametrize("path", INTERNAL_PATHS)
def test_internal_product_paths(gateway: Flask, path: str) -> None:
    person = sign_in(gateway, gateway.test_client())
    for client in (gateway.test_client(), person.client):
        for method in ("GET", "POST"):
            response = client.open(path, method=method, headers={"Accept": "application/json"})
            assert response.status_code in (400, 404), (path, response.status_code)
            assert response.headers.get("X-Upstream") is None


PUBLIC_TRICKS = [
    pytest.param(path, expected, id=case_id)
    for case_id, path, expected in PUBLIC_TRICK_CASES
]


@pytest.mark.parametrize(("path", "expected"), PUBLIC_TRICKS)
def test_query_and_fragment_tricks_on_public_routes(
    gateway: Flask, path: str, expected: str | None
) -> None:
    response = gateway.test_client().get(path, headers={"Accept": "application/json"})
    if expected is None:
        assert response.status_code in (400, 404), response.status_code
        assert response.headers.get("X-Upstream") is None
    else:
        echo = echoed(response)
        assert echo["path"] == expected
        assert echo["identity"] == {"error": "missing assertion"}


USER_AGENTS = [
    pytest.param(agent, id=f"CWE-807-ua-{name}")
    for name, agent in [
        ("none", None),
        ("empty", ""),
        ("kube-probe", "kube-probe/1.29"),
        ("elb", "ELB-HealthChecker/2.0"),
        ("google-hc", "GoogleHC/1.0"),
        ("curl", "curl/8.5.0"),
        ("bot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"),
        ("sqlmap", "sqlmap/1.7"),
        ("huge", "A" * 8000),
        ("control", "probe\x01\x7f"),
        ("unicode", "探针/1.0 🙂"),
    ]
]


@pytest.mark.parametrize("agent", USER_AGENTS)
def test_health_endpoints_whatever_the_user_agent(gateway: Flask, agent: str | None) -> None:
    client = gateway.test_client()
    headers = {} if agent is None else {"User-Agent": agent.encode().decode("latin-1")}
    health = client.get("/healthz", headers=headers)
    assert health.status_code == 200 and health.get_json()["status"] == "ok"
    ready = client.get("/readyz", headers=headers)
    assert ready.status_code == 200, ready.get_data(as_text=True)
    assert ready.get_json()["checks"]["database"] == "ok"
