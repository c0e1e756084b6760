"""The proofs of the built-in proxy, through real nginx and real Caddy (issue 14, item 4).

Every request goes to the edge's public entry; the edge asks the gateway (forward-auth) and
forwards what the gateway said. The security corpora are the built-in proxy's own case tables
(tests/support/corpora.py).
"""

from __future__ import annotations

import base64
import hashlib
import time
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from gateway import db as gateway_db
from gateway.assertion import AssertionVerifier, RemoteJwks
from gateway.db import new_session
from gateway.models import ProductLink
from gateway.proxy import headers as hdr
from tests.support import people
from tests.support.corpora import (
    BACKSLASH_PATH_CASES,
    BAD_HOSTS,
    FORWARDED_FOR,
    IDENTITY_NAMES,
    INTERNAL_PATH_CASES,
    OPEN_REDIRECTS,
    PUBLIC_TRICK_CASES,
    identity_header_variants,
)
from tests.support.edge import EdgeStack, RawResponse, raw_request
from tests.support.person import Person, browser

PASSWORD = "an edge journey passphrase"
#: SESSION_CACHE_SECONDS (2, the documented bound on a revocation) plus scheduling slack.
REVOCATION_BOUND = 2.0 + 1.5


class Linked:
    """A Console user linked to Segment (the echo product), signed in through the edge."""

    def __init__(self, edge: EdgeStack, label: str) -> None:
        self.email = f"{label}-{time.monotonic_ns()}@example.com"
        self.user_id = people.create_console_user(edge.stack, self.email, PASSWORD)
        app = edge.stack.app("gateway")
        with app.app_context(), new_session() as db:
            db.add(ProductLink(user_id=self.user_id, product="segment",
                               product_user_id="echo-" + self.user_id[:8], origin="created"))
            db.commit()
        gateway_db.engine(app).dispose()
        self.http = browser()
        answer = people.submit(self.http, edge.url + "/login", email=self.email,
                               password=PASSWORD)
        assert answer.status_code == 302, answer.text[:300]
        self.cookie = "; ".join(f"{c.name}={c.value}" for c in self.http.cookies)


@pytest.fixture(scope="module")
def linked(edge: EdgeStack) -> Linked:
    return Linked(edge, f"linked-{edge.kind}")


def _send(edge: EdgeStack, path: str, headers: list[tuple[str, str]] | None = None,
          method: str = "GET", cookie: str | None = None) -> RawResponse:
    sent = list(headers or [])
    if cookie:
        sent.append(("Cookie", cookie))
    return raw_request(edge.url, method, path, sent)


def _reached(answer: RawResponse) -> bool:
    return answer.header("X-Upstream") is not None


# --- the journey ---------------------------------------------------------------------------


def test_journey_sign_in_link_browse_sign_out_everywhere(edge: EdgeStack) -> None:
    """Sign up and in, link SendGrid (a new user), browse it, sign out everywhere: another
    browser of the same person is refused by the product prefix within the bound."""
    email = f"journey-{edge.kind}@example.com"
    person = Person(edge.url, email, PASSWORD)
    person.sign_up_and_verify()
    assert edge.url in person.mailed_link("/verify-email?token=")  # mail links use the edge

    first = person.get("/sendgrid/")
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/link/sendgrid?next=")
    person.create_product_user("sendgrid")
    page = person.get("/sendgrid/")
    assert page.status_code == 200, page.text[:300]
    assert email in page.text
    # The product believed the forwarded prefix (signed by the gateway): its links stay under it.
    assert 'href="/sendgrid/' in page.text
    assert "gw_session" not in page.text

    other = Person(edge.url, email, PASSWORD)  # the same person in a second browser
    assert other.sign_in().status_code == 302
    assert other.get("/sendgrid/").status_code == 200

    signed_out = person.post_form("/settings/sessions/revoke-all",
                                  "/settings/sessions/revoke-all", {})
    assert signed_out.status_code == 302
    assert person.get("/sendgrid/", headers={"Accept": "text/html"}).status_code == 302
    started = time.monotonic()
    while True:
        answer = other.get("/sendgrid/", headers={"Accept": "text/html"})
        if answer.status_code == 302:
            assert answer.headers["Location"].startswith("/login?next=")
            break
        assert answer.status_code == 200
        assert time.monotonic() - started < REVOCATION_BOUND, "still served after the bound"
        time.sleep(0.1)
    api = other.get("/sendgrid/", headers={"Accept": "application/json"})
    assert api.status_code == 401


def test_not_signed_in_browser_and_api(edge: EdgeStack) -> None:
    page = _send(edge, "/segment/x?a=1", [("Accept", "text/html")])
    assert page.status_code == 302
    assert page.header("Location") == "/login?next=%2Fsegment%2Fx%3Fa%3D1"
    api = _send(edge, "/segment/x", [("Accept", "application/json")])
    assert api.status_code == 401 and not _reached(api)
    assert _send(edge, "/segment").status_code == 308


def test_the_forward_auth_endpoints_are_not_public(edge: EdgeStack, linked: Linked) -> None:
    for path in ("/auth/nginx", "/auth/forward", "/auth/envoy/segment/x"):
        answer = _send(edge, path, [("X-Original-URL", "/segment/x"),
                                    ("X-Forwarded-Uri", "/segment/x")], cookie=linked.cookie)
        assert answer.status_code == 404, path
        assert answer.header("X-Identity-Assertion") is None


def test_the_product_gets_the_assertion_and_never_the_gateway_cookie(
    edge: EdgeStack, linked: Linked
) -> None:
    answer = _send(edge, "/segment/x?y=1", cookie=linked.cookie + "; theme=dark")
    assert answer.status_code == 200
    echo = answer.json()
    assert echo["identity"]["email"] == linked.email
    assert (echo["path"], echo["query"]) == ("/x", "y=1")
    received = {k.lower(): v for k, v in echo["headers"]}
    assert received["cookie"] == "theme=dark"
    assert received["x-forwarded-prefix"] == "/segment"
    assert answer.header("X-Identity-Assertion") is None  # never back to the browser


# --- spoofed identity headers (CWE-290) ---------------------------------------------------------

SPOOFED = [
    pytest.param(headers, id=f"{name}-{kind}")
    for name in IDENTITY_NAMES
    for kind, headers in identity_header_variants(name)
]


def _readable(value: str) -> str:
    """A JWT (the assertion, the forwarded proof) as its decoded header and claims: its
    signature is random base64url, which may spell "evil" by chance (it once did)."""
    parts = value.split(".")
    if len(parts) != 3 or not value.startswith("ey"):
        return value
    decoded = (base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in parts[:2])
    return "".join(part.decode("utf-8", "replace") for part in decoded)


@pytest.mark.parametrize("headers", SPOOFED)
def test_spoofed_identity_headers(edge: EdgeStack, linked: Linked,
                                  headers: list[tuple[str, str]]) -> None:
    for path, cookie in (("/segment/x", linked.cookie), ("/segment/login", None)):
        answer = _send(edge, path, headers, cookie=cookie)
        assert answer.status_code == 200, (path, answer.status_code, answer.body[:200])
        echo = answer.json()
        for name, value in echo["headers"]:
            assert "evil" not in _readable(value), (name, value)
            if hdr.canonical(name) != "x-identity-assertion" and not name.lower().startswith(
                "x-forwarded-"
            ):
                assert not hdr.is_identity_header(name), name
        if cookie is None:
            assert echo["identity"] == {"error": "missing assertion"}
        else:
            assert echo["identity"]["email"] == linked.email


@pytest.mark.parametrize("value", [v for _, v in FORWARDED_FOR],
                         ids=[i for i, _ in FORWARDED_FOR])
def test_client_forwarded_for_never_reaches_the_product(
    edge: EdgeStack, linked: Linked, value: str
) -> None:
    """The product's X-Forwarded-* are the gateway's, signed: never the client's."""
    sent = [("X-Forwarded-For", value), ("X-Forwarded-Host", "evil.test"),
            ("X-Forwarded-Proto", "https"), ("X-Forwarded-Prefix", "/evil")]
    answer = _send(edge, "/segment/login", sent)
    received = {k.lower(): v for k, v in answer.json()["headers"]}
    assert received["x-forwarded-for"] == "127.0.0.1"
    assert received["x-forwarded-host"] == urlsplit(edge.url).netloc
    assert received["x-forwarded-proto"] == "http"
    assert received["x-forwarded-prefix"] == "/segment"
    verifier = AssertionVerifier("segment", edge.url,
                                 RemoteJwks(edge.url + "/.well-known/jwks.json"))
    signed = verifier.verify_forwarded(received["x-forwarded-signature"], method="GET",
                                       path="/login")
    assert signed["for"] == "127.0.0.1" and signed["prefix"] == "/segment"


@pytest.mark.parametrize("host", [h for _, h in BAD_HOSTS], ids=[i for i, _ in BAD_HOSTS])
def test_a_host_no_url_can_be_built_from_never_reaches_the_product(
    edge: EdgeStack, linked: Linked, host: str
) -> None:
    """Refused (by the edge, or by the gateway the edge asks), never a 500: the gateway signs
    no such X-Forwarded-Host."""
    for path in ("/segment/x", "/segment/login", "/login"):
        answer = raw_request(edge.url, "GET", path, [("Cookie", linked.cookie)], host=host)
        assert 400 <= answer.status_code < 500 or (
            edge.kind == "caddy" and answer.status_code == 200 and not answer.body
        ), (path, answer.status_code)
        assert not _reached(answer)


# --- path normalisation (CWE-22/41/178/176) -----------------------------------------------------


@pytest.mark.parametrize("path", [p for _, p in INTERNAL_PATH_CASES],
                         ids=[i for i, _ in INTERNAL_PATH_CASES])
def test_internal_product_paths(edge: EdgeStack, linked: Linked, path: str) -> None:
    for cookie in (None, linked.cookie):
        for method in ("GET", "POST"):
            answer = _send(edge, path, [("Accept", "application/json")], method, cookie)
            assert answer.status_code in (400, 404), (path, method, answer.status_code)
            assert not _reached(answer)


@pytest.mark.parametrize("path", [p for _, p in BACKSLASH_PATH_CASES],
                         ids=[i for i, _ in BACKSLASH_PATH_CASES])
def test_backslash_paths_are_400_before_routing(edge: EdgeStack, linked: Linked,
                                               path: str) -> None:
    """The edge routes on ``\\`` as a character: were the gateway to read it as ``/``, one
    product would be asked for and another served. Refused before either routes."""
    for accept in ("text/html", "application/json"):
        answer = _send(edge, path, [("Accept", accept)], cookie=linked.cookie)
        assert answer.status_code == 400, (path, answer.status_code)
        assert not _reached(answer)
        assert answer.header("Location") is None


#: Spellings an edge and the gateway could read differently, all meaning an ordinary page:
#: whatever reaches the product is the path the assertion names (the echo verifies it).
EQUIVALENT = [
    ("/segment/a/b", "/a/b"),
    ("/segment//a//b", "/a/b"),
    ("/segment/./a/./b", "/a/b"),
    ("/segment/z/../a/b", "/a/b"),
    ("/segment/z/%2e%2e/a/b", "/a/b"),
    ("/SEGMENT/a/b", "/a/b"),
    ("/Segment/a/b", "/a/b"),
    ("/%73egment/a/b", "/a/b"),
    ("/segment/%61/b", "/a/b"),
    ("/segment/a%2fb", "/a/b"),
    ("/segment/a%20b", "/a b"),
    ("/segment/caf%C3%A9", "/caf\u00e9"),
    ("/segment/a/b/", "/a/b/"),
]


@pytest.mark.parametrize(("path", "expected"), EQUIVALENT, ids=[p for p, _ in EQUIVALENT])
def test_the_product_receives_the_path_that_was_authorised(
    edge: EdgeStack, linked: Linked, path: str, expected: str
) -> None:
    answer = _send(edge, path, cookie=linked.cookie)
    if answer.status_code == 200:
        echo = answer.json()
        assert echo["path"] == expected
        assert echo["identity"].get("email") == linked.email, echo["identity"]
    else:  # an edge may refuse a spelling outright; it must never forward another path
        assert answer.status_code in (400, 404), answer.status_code
        assert not _reached(answer)


@pytest.mark.parametrize(("path", "expected"), [(p, e) for _, p, e in PUBLIC_TRICK_CASES],
                         ids=[i for i, _, _ in PUBLIC_TRICK_CASES])
def test_query_and_fragment_tricks_on_public_routes(
    edge: EdgeStack, path: str, expected: str | None
) -> None:
    answer = _send(edge, path, [("Accept", "application/json")])
    if expected is None:
        assert answer.status_code in (400, 404), answer.status_code
        assert not _reached(answer)
    else:
        assert answer.status_code == 200
        echo = answer.json()
        assert echo["path"] == expected
        assert echo["identity"] == {"error": "missing assertion"}


# --- open redirects on the sign-in redirect (CWE-601) ----------------------------------------


def _stays_home(edge: EdgeStack, location: str) -> None:
    target = urlsplit(urljoin(edge.url + "/login", location.replace("\\", "/").strip()))
    assert (target.scheme, target.netloc) == ("http", urlsplit(edge.url).netloc), location


@pytest.mark.parametrize("value", [v for _, v in OPEN_REDIRECTS],
                         ids=[i for i, _ in OPEN_REDIRECTS])
def test_sign_in_redirect_stays_home(edge: EdgeStack, linked: Linked, value: str) -> None:
    signed_in = linked.http.get(edge.url + "/login", params={"next": value},
                                allow_redirects=False, timeout=15)
    assert signed_in.status_code in (301, 302, 303, 307, 308), signed_in.status_code
    _stays_home(edge, signed_in.headers["Location"])
    session = requests.Session()
    session.trust_env = False
    answer = people.submit(session, edge.url + "/login", form_url=edge.url + "/login",
                           email=linked.email, password=PASSWORD, next=value)
    assert answer.status_code == 302, answer.status_code
    _stays_home(edge, answer.headers["Location"])


def test_product_pages_gain_the_built_in_proxy_defaults(edge: EdgeStack, linked: Linked) -> None:
    """No framing, nosniff, no-store when the product set none; the product's own win."""
    bare = _send(edge, "/segment/x", cookie=linked.cookie)
    assert bare.status_code == 200
    assert bare.header("Content-Security-Policy") == "frame-ancestors 'none'"
    assert bare.header("X-Frame-Options") == "DENY"
    assert bare.header("X-Content-Type-Options") == "nosniff"
    assert bare.header("Cache-Control") == "no-store"
    own = _send(edge, "/segment/own-headers", cookie=linked.cookie)
    assert own.status_code == 200
    assert [v for k, v in own.headers if k.lower() == "content-security-policy"] == [
        "default-src 'self'; frame-ancestors 'self'"]
    assert [v for k, v in own.headers if k.lower() == "cache-control"] == ["public, max-age=60"]


#: The edge's own answers on product paths (id, path, Accept, linked): sign-in, link, refusals.
EDGE_ANSWERS = [
    ("sign-in-browser", "/segment/x", "text/html", False),
    ("sign-in-api", "/segment/x", "application/json", False),
    ("link-first", "/sendgrid/x", "text/html", True),
    ("refused-by-the-gateway", "/segment/.../x", "text/html", True),
    ("internal-path", "/segment/scim/v2/Users", "text/html", True),
    ("bare-prefix", "/segment", "text/html", True),
    ("backslash", "/segment/a\\b", "text/html", True),
]


@pytest.mark.parametrize(("path", "accept", "signed_in"), [a[1:] for a in EDGE_ANSWERS],
                         ids=[a[0] for a in EDGE_ANSWERS])
def test_the_edges_own_answers_forbid_framing(
    edge: EdgeStack, linked: Linked, path: str, accept: str, signed_in: bool
) -> None:
    """A sign-in redirect or refusal the edge answers itself carries what a product page
    carries: a framed sign-in redirect is a clickjacking start as much as a framed page."""
    answer = _send(edge, path, [("Accept", accept)], cookie=linked.cookie if signed_in else None)
    assert answer.status_code in (302, 308, 400, 401, 404), answer.status_code
    assert not _reached(answer)
    assert "frame-ancestors 'none'" in (answer.header("Content-Security-Policy") or "")
    assert answer.header("X-Frame-Options") == "DENY"
    assert answer.header("X-Content-Type-Options") == "nosniff"
    assert answer.header("Cache-Control") == "no-store"


def test_a_request_body_reaches_the_product_whole(edge: EdgeStack, linked: Linked) -> None:
    body = bytes(range(256)) * 400  # 100 KiB
    answer = raw_request(edge.url, "POST", "/segment/upload",
                         [("Cookie", linked.cookie), ("Content-Type", "application/octet-stream")],
                         body)
    assert answer.status_code == 200, answer.body[:300]
    echo = answer.json()
    assert (echo["method"], echo["body_size"]) == ("POST", len(body))
    assert echo["body_sha256"] == hashlib.sha256(body).hexdigest()
    assert echo["identity"]["email"] == linked.email  # signed for POST /upload
