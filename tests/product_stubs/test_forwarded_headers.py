"""X-Forwarded-* count only when the gateway signed them (``X-Forwarded-Signature``), so a
direct client cannot dodge throttling or write a made-up address into the session history;
pages reached through the gateway keep its prefix (issue 10's attack run, product side).
"""

from __future__ import annotations

import time

import pytest
from flask import Flask

from gateway.assertion import FORWARDED_HEADER
from tests.support.keys import stranger_key
from tests.support.product_apps import Helper
from tests.support.product_servers import RunningProduct, product_browser


@pytest.mark.cwe(348)
def test_rotating_x_forwarded_for_is_throttled(h: Helper) -> None:
    limit = h.app.config["LOGIN_IP_MAX_ATTEMPTS"]
    statuses = [
        h.client.post(
            "/login",
            data={"step": "password", "email": f"guess{i}@example.com", "password": "x" * 12},
            headers={"X-Forwarded-For": f"198.51.100.{i}"},
        ).status_code
        for i in range(limit + 5)
    ]
    assert statuses[:limit] == [200] * limit
    assert set(statuses[limit:]) == {429}


@pytest.mark.cwe(348)
def test_session_history_keeps_the_real_address(h: Helper) -> None:
    if h.product != "segment":
        pytest.skip("only Segment keeps a session history")
    email, password = h.password_user
    spoofed = {"X-Forwarded-For": "203.0.113.66", "User-Agent": "Spoofer/1.0"}
    h.client.post(
        "/login", data={"step": "password", "email": email, "password": password}, headers=spoofed
    )
    history = h.client.get("/settings/sessions").get_data(as_text=True)
    assert "Spoofer/1.0" in history
    assert "203.0.113.66" not in history and "127.0.0.1" in history


@pytest.mark.cwe(348)
@pytest.mark.parametrize(
    "forgery", ["unsigned", "other-key", "other-path", "assertion-as-proof", "expired"]
)
def test_forwarded_headers_need_the_gateway_signature(
    h: Helper, forgery: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    headers = h.forwarded("/login")
    if forgery == "unsigned":
        del headers[FORWARDED_HEADER]
    elif forgery == "other-key":
        headers = h.forwarded("/login", key=stranger_key())
    elif forgery == "other-path":
        headers = h.forwarded("/signup")
    elif forgery == "assertion-as-proof":  # an identity assertion is not a forwarded proof
        headers[FORWARDED_HEADER] = h.assertion("u", "c", "/login")["X-Identity-Assertion"]
    else:
        headers = h.forwarded("/login", now=int(time.time()) - 120)
    page = h.client.get("/login", headers=headers).get_data(as_text=True)
    assert 'action="/login"' in page and f'action="/{h.product}/login"' not in page


@pytest.mark.cwe(348)
def test_signed_forwarded_headers_are_honoured(h: Helper) -> None:
    page = h.client.get("/login", headers=h.forwarded("/login")).get_data(as_text=True)
    assert f'action="/{h.product}/login"' in page
    # Only the signed values count: a header changed or added next to the signature is not.
    altered = h.forwarded("/login", "POST") | {"X-Forwarded-For": "198.51.100.99"}
    email, password = h.password_user
    h.client.post(
        "/login", data={"step": "password", "email": email, "password": password}, headers=altered
    )
    if h.product == "segment":
        history = h.client.get("/settings/sessions").get_data(as_text=True)
        assert "203.0.113.7" in history and "198.51.100.99" not in history
    # A foreign prefix is refused even when signed (the product builds URLs under its own only).
    other = h.client.get("/login", headers=h.forwarded("/login", prefix="//evil.example"))
    assert "evil.example" not in other.get_data(as_text=True)
    # Throttling counts the browser's address the gateway vouched for, one budget per address.
    limit = h.app.config["LOGIN_IP_MAX_ATTEMPTS"]
    data = {"step": "password", "email": "someone@example.com", "password": "x" * 12}
    for i in range(limit):
        data["email"] = f"guess{i}@example.com"
        h.client.post("/login", data=data, headers=h.forwarded("/login", "POST"))
    again = h.client.post("/login", data=data, headers=h.forwarded("/login", "POST"))
    assert again.status_code == 429
    other_browser = h.forwarded("/login", "POST", **{"for": "198.51.100.200"})
    assert h.client.post("/login", data=data, headers=other_browser).status_code == 200


@pytest.mark.cwe(348)
def test_public_pages_through_the_gateway_keep_the_prefix(
    linked_gateway: Flask,
    products: dict[str, RunningProduct],  # noqa: F811
) -> None:
    """The gateway signs what it forwards on public paths too: URLs stay under /segment."""
    page = linked_gateway.test_client().get("/segment/login").get_data(as_text=True)
    assert 'action="/segment/login"' in page
    direct = product_browser().get(
        products["segment"].url + "/login",
        headers={"X-Forwarded-Prefix": "/segment", "X-Forwarded-For": "203.0.113.7"},
        timeout=5,
    )
    assert 'action="/login"' in direct.text
