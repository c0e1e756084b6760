"""Every next/return value: only relative paths on the gateway or a product prefix (SPEC 14).

One table, run against the gateway's validator, the products' own validator (products cannot
import gateway code, so they keep a twin), and through the pages that take a ``next``.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest

from gateway.web.return_paths import safe_return_path
from product_stubs.kit.urls import safe_next

ACCEPTED = [
    ("/", "root"),
    ("/settings", "console page"),
    ("/segment/", "product prefix"),
    ("/sendgrid/settings?tab=2#top", "product page with query and fragment"),
    ("/segment/sources/caf%C3%A9", "encoded unicode path"),
]

REFUSED = [
    ("//evil.example", "protocol-relative"),
    ("//evil.example/segment/", "protocol-relative with product path"),
    ("/\\evil.example", "backslash host"),
    ("\\\\evil.example", "double backslash"),
    ("/\t/evil.example", "tab between slashes"),
    ("/\n/evil.example", "newline between slashes"),
    ("https://evil.example", "absolute https"),
    ("http:/evil.example", "scheme without slashes"),
    ("HTTPS://evil.example/", "upper-case scheme"),
    ("javascript:alert(1)", "javascript scheme"),
    ("JaVaScRiPt:alert(1)", "mixed-case javascript"),
    (" javascript:alert(1)", "leading space javascript"),
    ("data:text/html,<script>alert(1)</script>", "data scheme"),
    ("/%2F%2Fevil.example", "percent-encoded slashes"),
    ("/%2f%2fevil.example", "lower-case percent-encoded slashes"),
    ("/%5Cevil.example", "percent-encoded backslash"),
    ("/%252F%252Fevil.example", "double-encoded slashes"),
    ("%2F%2Fevil.example", "fully encoded protocol-relative"),
    ("/%09/evil.example", "encoded tab"),
    ("/\u3000/evil.example", "ideographic space"),
    ("/\u00a0/evil.example", "no-break space"),
    ("evil.example", "no leading slash"),
    ("", "empty"),
    ("/" + "a" * 5000, "huge"),
]


@pytest.mark.parametrize(("value", "why"), ACCEPTED, ids=[w for _, w in ACCEPTED])
def test_gateway_accepts(value, why):
    assert safe_return_path(value, default="/fallback") == value


@pytest.mark.parametrize(("value", "why"), REFUSED, ids=[w for _, w in REFUSED])
def test_gateway_refuses(value, why):
    assert safe_return_path(value, default="/fallback") == "/fallback"


@pytest.mark.parametrize(("value", "why"), REFUSED, ids=[w for _, w in REFUSED])
def test_products_refuse_the_same_table(value, why):
    assert safe_next(value) is None


@pytest.mark.parametrize("value", [None, 42, ["/"], {"a": "/"}], ids=repr)
def test_non_strings_fall_back(value):
    assert safe_return_path(value, default="/d") == "/d"
    assert safe_next(value) is None


def test_link_and_login_pages_never_send_elsewhere(person, products):
    person.sign_up_and_in("alice@example.com")
    person.link("segment", "alice@example.com", "segment-alice-pass", next="/segment/")
    for value, why in REFUSED:
        link = person.client.get("/link/segment?next=" + quote(value, safe=""))
        login = person.client.get("/login?next=" + quote(value, safe=""))
        assert (link.status_code, link.headers["Location"]) == (302, "/segment/"), why
        assert (login.status_code, login.headers["Location"]) == (302, "/"), why
    for value, why in ACCEPTED:
        link = person.client.get("/link/segment?next=" + quote(value, safe=""))
        assert link.headers["Location"] == value, why
