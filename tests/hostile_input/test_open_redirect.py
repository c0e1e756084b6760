"""CWE-601 (URL redirection to untrusted site): every ``next`` / return value, every surface.

The redirect target is resolved the way a browser would (WHATWG URL parsing: leading and
trailing C0/space trimmed, tab and newline removed, ``\\`` read as ``/``) against the gateway's
origin; it must stay on that origin whatever was sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from flask import Flask

from product_stubs.kit.db import session_factory
from tests.support.console import PASSWORD, Actions, current_code
from tests.support.corpora import OPEN_REDIRECTS
from tests.support.csrf import csrf_from
from tests.support.proxy_gateway import sign_in
from tests.support.switches import PRODUCT as SWITCHES

ORIGIN = "https://gw.test"

IDS = [case_id for case_id, _ in OPEN_REDIRECTS]
VALUES = [value for _, value in OPEN_REDIRECTS]


def browser_target(location: str) -> str:
    """Where a browser goes for ``Location: location`` on a gateway page."""
    cleaned = location.strip("\x00\x01\x02\x03\x04\x05\x06\x07\x08\x0b\x0c\x0e\x0f\x1f ")
    cleaned = re.sub(r"[\t\n\r]", "", cleaned).replace("\\", "/")
    return urljoin(ORIGIN + "/settings/x", cleaned)


def assert_stays_home(response: Any) -> None:
    assert response.status_code in (301, 302, 303, 307, 308), response.status_code
    target = urlsplit(browser_target(response.headers["Location"]))
    assert (target.scheme, target.netloc) == ("https", "gw.test"), response.headers["Location"]


@pytest.fixture(scope="module")
def segment_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """Segment's own app (SQLite whatever the gateway's database: only its login is used)."""
    import product_stubs.segment as segment

    folder = tmp_path_factory.mktemp("segment-login")
    app = segment.create_app({"APP_ENV": "test", "DATABASE_URL": f"sqlite:///{folder}/s.db",
                              "LOGIN_IP_MAX_ATTEMPTS": 10_000}, SWITCHES)
    segment.seed_demo_data(app)
    yield app
    session_factory(app).kw["bind"].dispose()


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_gateway_return_paths(gateway: Flask, value: str) -> None:
    """``next`` on /login (signed in, password step, after 2FA), /logout,
    /settings/reauthenticate and /link/<product>."""
    actions = Actions(gateway, gateway.test_client())
    actions.create_user()
    assert_stays_home(actions.sign_in(next=value))
    assert_stays_home(actions.client.get("/login", query_string={"next": value}))
    form = "/settings/reauthenticate"
    assert_stays_home(actions.post(form, password=PASSWORD, next=value))
    assert_stays_home(actions.post("/logout", form_path="/settings", next=value))

    second = Actions(gateway, gateway.test_client())
    user = second.create_user("totp@example.com", totp=True)
    assert second.sign_in("totp@example.com", next=value).status_code == 302
    assert_stays_home(second.enter_code(current_code(user.totp_secret or "")))

    linked = sign_in(gateway, gateway.test_client())  # already linked: straight on to next
    assert_stays_home(linked.client.get("/link/segment", query_string={"next": value}))


@pytest.mark.parametrize("value", VALUES, ids=IDS)
def test_product_login_return_path(segment_app: Flask, value: str) -> None:
    """The product's own login page, as reached through the gateway under ``/segment``."""
    client = segment_app.test_client()
    proxied = {"X-Forwarded-Prefix": "/segment", "X-Forwarded-Host": "gw.test",
               "X-Forwarded-Proto": "https", "Referer": ORIGIN + "/segment/login"}
    page = client.get("/login", headers=proxied).get_data(as_text=True)
    signed_in = client.post("/login", headers=proxied, data={
        "csrf_token": csrf_from(page), "step": "password", "email": "alice@example.com",
        "password": "segment-alice-pass", "next": value})
    assert_stays_home(signed_in)
    assert_stays_home(client.get("/login", headers=proxied, query_string={"next": value}))
