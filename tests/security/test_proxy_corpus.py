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
from tests.support.proxy_gateway import SignedIn, echoed, header_names, sign_in

IDENTITY_NAMES = [
    "X-Identity-Assertion", "X-Identity-Email", "X-Forwarded-User", "X-Forwarded-Email",
    "Remote-User", "X-Remote-User", "X-Auth-Request-Email", "X-User", "X-Authenticated-User",
    "X-MS-Client-Principal-Name", "X-Goog-Authenticated-User-Email", "X-Pomerium-Jwt-Assertion",
]


def _variants(name: str) -> list[tuple[str, list[tuple[str, str]]]]:
    mixed = "".join(c.upper() if i % 2 else c.lower() for i, c in enumerate(name))
    evil = "evil@attacker.test"
    return [
        ("lower", [(name.lower(), evil)]),
        ("upper", [(name.upper(), evil)]),
        ("underscore", [(name.replace("-", "_"), evil)]),
        ("mixed-underscore", [(mixed.replace("-", "_", 1), evil)]),
        ("duplicate", [(name, evil), (name.lower(), evil + "-2"),
                       (name.replace("-", "_"), evil + "-3")]),
    ]


SPOOFED = [
    pytest.param(headers, id=f"CWE-290-{name}-{kind}")
    for name in IDENTITY_NAMES
    for kind, headers in _variants(name)
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


INTERNAL_PATHS = [
    pytest.param(path, id=case_id)
    for case_id, path in [
        ("CWE-22-plain-scim", "/segment/scim/v2/Users"),
        ("CWE-22-plain-internal", "/sendgrid/internal/link/verify"),
        ("CWE-22-plain-healthz", "/segment/healthz"),
        ("CWE-22-dot-dot", "/segment/x/../scim/v2/Users"),
        ("CWE-22-encoded-dot-dot", "/segment/x/%2e%2e/scim/v2/Users"),
        ("CWE-22-encoded-dot-dot-upper", "/segment/x/%2E%2E/internal/link"),
        ("CWE-22-encoded-slash", "/segment/x%2f..%2fscim/v2/Users"),
        ("CWE-22-encoded-backslash", "/segment/x%5c..%5cscim/v2/Users"),
        ("CWE-22-double-encoded-dot-dot", "/segment/%252e%252e/scim/v2/Users"),
        ("CWE-22-double-encoded-letter", "/segment/%2573cim/v2/Users"),
        ("CWE-22-backslash", "/segment/x\\..\\internal\\link"),
        ("CWE-22-from-public-path", "/segment/login/../internal/link"),
        ("CWE-22-from-static", "/segment/static/../scim/v2/Users"),
        ("CWE-22-above-prefix", "/segment/../segment/scim/v2/Users"),
        ("CWE-41-double-slash", "/segment//scim/v2/Users"),
        ("CWE-41-double-slash-internal", "//sendgrid//internal//link"),
        ("CWE-41-dot-segment", "/segment/./scim/v2/Users"),
        ("CWE-41-trailing-dot", "/segment/scim./v2/Users"),
        ("CWE-41-triple-dot", "/segment/.../scim/v2/Users"),
        ("CWE-41-semicolon-param", "/segment/scim;x=1/v2/Users"),
        ("CWE-41-trailing-slash", "/segment/healthz/"),
        ("CWE-178-uppercase", "/segment/SCIM/v2/Users"),
        ("CWE-178-uppercase-prefix", "/SEGMENT/%73cim/v2/Users"),
        ("CWE-178-mixed-case", "/SendGrid/Internal/link"),
        ("CWE-176-fullwidth", "/segment/\uff53\uff43\uff49\uff4d/v2/Users"),
        ("CWE-176-fullwidth-encoded", "/segment/%EF%BD%93cim/v2/Users"),
        ("CWE-22-readyz", "/sendgrid/readyz"),
        ("CWE-41-dot-dot-semicolon", "/sendgrid/x/..;/scim/v2/Users"),
        ("CWE-41-encoded-dot-dot-semicolon", "/sendgrid/x/%2e%2e%3b/internal/link"),
        ("CWE-41-fullwidth-dot-dot", "/segment/x/\uff0e\uff0e/scim/v2/Users"),
    ]
]


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
    for case_id, path, expected in [
        ("CWE-20-query-traversal", "/segment/login?next=/../scim/v2/Users", "/login"),
        ("CWE-20-query-encoded-traversal", "/segment/login?x=%2F..%2Fscim", "/login"),
        ("CWE-20-encoded-question-mark", "/segment/login%3F/../../scim/v2/Users", None),
        ("CWE-20-encoded-hash", "/segment/login%23/../../internal/link", None),
        ("CWE-20-double-encoded-question-mark", "/segment/login%253F/../../scim", None),
        ("CWE-20-semicolon", "/segment/login;/../scim/v2/Users", None),
        ("CWE-20-static-encoded-traversal", "/segment/static/..%2f..%2fscim/v2/Users", None),
        ("CWE-20-query-internal-path", "/segment/signup?/scim/v2/Users", "/signup"),
        ("CWE-41-dot-dot-semicolon-from-static", "/sendgrid/static/..;/settings", None),
        ("CWE-41-matrix-param-on-public", "/sendgrid/login;jsessionid=x", None),
    ]
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
