"""Issue 10, product side: what the attack run found in the product apps (findings 3, 4, 5, 14).

- CWE-208: the own login page costs one password-hash check whether the email is known or not;
- CWE-348: X-Forwarded-* count only when the gateway signed them (``X-Forwarded-Signature``), so
  a direct client cannot dodge throttling or write a made-up address into the session history;
- CWE-287: a product sign-up makes no user until the mailbox owner follows the mailed link and
  chooses the password there, so an unverified sign-up blocks no Console user and accepts no
  invitation; the link is built from the configured address, never the request's Host;
- CWE-565: each product has its own session cookie, and the demo says products live on their
  own hostnames in production.
"""

from __future__ import annotations

import importlib
import re
import time
from typing import Any

import pytest
from flask import Flask
from itsdangerous import TimestampSigner
from sqlalchemy import select

from gateway.assertion import FORWARDED_HEADER
from product_stubs.kit.db import session_factory
from product_stubs.kit.models import OutboxMessage, User
from tests.product_stubs.test_teams import PASSWORD, invite, setup_team
from tests.support.keys import stranger_key
from tests.support.product_apps import PRODUCTS, Helper, make_product_app
from tests.support.product_servers import RunningProduct, product_browser

NEW_PASSWORD = "a brand new long password"


# --- helpers -------------------------------------------------------------------------------------


@pytest.fixture(params=PRODUCTS)
def h(request: pytest.FixtureRequest, tmp_path: Any) -> Helper:
    product = str(request.param)
    module = importlib.import_module(f"product_stubs.{product}")
    app = make_product_app(module, product, tmp_path)
    return Helper(app, app.test_client(), product)


class _CountingHasher:
    """Wraps the argon2 hasher of a product and counts ``verify`` calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.verifies = 0

    def verify(self, stored: str, password: str) -> bool:
        self.verifies += 1
        return bool(self.inner.verify(stored, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _count_verifies(app: Flask, monkeypatch: pytest.MonkeyPatch) -> _CountingHasher:
    passwords = app.extensions["product_passwords"]
    counter = _CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counter)
    return counter


def _mails(app: Flask, to: str) -> list[OutboxMessage]:
    with session_factory(app)() as db:
        return list(
            db.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.recipient == to)
                .order_by(OutboxMessage.id)
            )
        )


def _confirm_link(app: Flask, to: str) -> str:
    found = re.search(r"https?://\S+/signup/confirm/\S+", _mails(app, to)[-1].body)
    assert found, _mails(app, to)[-1].body
    return found.group(0)


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def _user(app: Flask, email: str) -> User | None:
    with session_factory(app)() as db:
        return db.scalar(select(User).where(User.email == email))


# --- CWE-208: one hash check per login attempt -----------------------------------------------


def test_cwe_208_login_costs_one_hash_check_for_known_and_unknown_emails(
    h: Helper, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = _count_verifies(h.app, monkeypatch)
    email, password = h.password_user
    cases = [
        (email, "a wrong password here", 200),
        ("nobody-at-all@example.com", "a wrong password here", 200),
        (email, password, 302),
    ]
    for address, attempt, status in cases:
        counter.verifies = 0
        response = h.sign_in(address, attempt, h.app.test_client())
        assert response.status_code == status
        assert counter.verifies == 1, address


# --- CWE-348: forwarded headers only from the gateway ------------------------------------------


def test_cwe_348_rotating_x_forwarded_for_is_throttled(h: Helper) -> None:
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


def test_cwe_348_session_history_keeps_the_real_address(h: Helper) -> None:
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


@pytest.mark.parametrize(
    "forgery", ["unsigned", "other-key", "other-path", "assertion-as-proof", "expired"]
)
def test_cwe_348_forwarded_headers_need_the_gateway_signature(
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


def test_cwe_348_signed_forwarded_headers_are_honoured(h: Helper) -> None:
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


def test_cwe_348_public_pages_through_the_gateway_keep_the_prefix(
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


# --- CWE-287: sign-up proves the mailbox ----------------------------------------------------------


def test_cwe_287_unverified_signup_blocks_no_console_user(h: Helper) -> None:
    victim = "console.victim@example.com"
    attacker = h.app.test_client()
    answer = attacker.post("/signup", data={"email": victim, "password": "attacker password 1"})
    assert answer.status_code == 200 and "Check your inbox" in answer.get_data(as_text=True)
    assert _user(h.app, victim) is None  # nothing exists until the mailbox owner acts
    assert attacker.get("/", headers={"Accept": "application/json"}).status_code == 401
    assert h.sign_in(victim, "attacker password 1", attacker).status_code == 200  # not signed in
    verify = h.client.post(
        "/internal/link/verify",
        json={"email": victim, "password": "attacker password 1"},
        headers=h.bearer(),
    )
    assert verify.status_code == 401
    created = h.create_scim_user(victim, "console-victim")  # the Console's "create a new user"
    assert created["userName"] == victim
    # The link mailed for the attacker's sign-up is dead once the address has its user.
    link = _path(_confirm_link(h.app, victim))
    assert h.app.test_client().post(link, data={"password": NEW_PASSWORD}).status_code == 409


def test_cwe_287_invitation_needs_a_verified_address(h: Helper) -> None:
    cid, clients, _ = setup_team(h)
    token = invite(clients["owner"], h.app, cid, "invited@example.com", "admin")
    attacker = h.app.test_client()
    attacker.post("/signup", data={"email": "invited@example.com", "password": PASSWORD})
    refused = attacker.post(f"/invitations/{token}/accept", headers={"Accept": "application/json"})
    assert refused.status_code == 401
    # The mailbox owner follows the link, chooses the password, then accepts.
    owner = h.app.test_client()
    link = _path(_confirm_link(h.app, "invited@example.com"))
    assert "Choose a password" in owner.get(link).get_data(as_text=True)
    assert owner.post(link, data={"password": NEW_PASSWORD}).status_code == 302
    assert owner.post(f"/invitations/{token}/accept").status_code == 302
    assert h.sign_in("invited@example.com", PASSWORD, h.app.test_client()).status_code == 200
    assert h.sign_in("invited@example.com", NEW_PASSWORD, h.app.test_client()).status_code == 302


def test_cwe_287_signup_answers_alike_for_taken_addresses(h: Helper) -> None:
    email, _ = h.password_user
    taken = h.client.post("/signup", data={"email": email})
    new = h.client.post("/signup", data={"email": "fresh@example.com"})
    assert taken.status_code == new.status_code == 200
    strip = lambda r: r.get_data(as_text=True).replace(email, "X").replace("fresh@example.com", "X")  # noqa: E731
    assert strip(taken) == strip(new)
    assert "already" in _mails(h.app, email)[-1].body
    assert "/signup/confirm/" not in _mails(h.app, email)[-1].body


def test_cwe_640_signup_link_ignores_the_host_header(h: Helper) -> None:
    h.client.post("/signup", data={"email": "hosted@example.com"}, headers={"Host": "evil.example"})
    link = _confirm_link(h.app, "hosted@example.com")
    assert link.startswith(h.app.config["SITE_URL"] + "/signup/confirm/")
    assert "evil.example" not in link


def test_cwe_287_confirm_links_expire_and_are_not_forgeable(
    h: Helper, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_days_ago = int(time.time()) - 3 * 86400
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: three_days_ago)
    h.client.post("/signup", data={"email": "slow@example.com"})
    monkeypatch.undo()
    expired = _path(_confirm_link(h.app, "slow@example.com"))
    assert h.client.post(expired, data={"password": NEW_PASSWORD}).status_code == 400
    assert h.client.get("/signup/confirm/made-up-token").status_code == 400
    assert _user(h.app, "slow@example.com") is None


def test_cwe_400_signup_mail_to_one_address_is_capped(h: Helper) -> None:
    for _ in range(12):
        assert h.client.post("/signup", data={"email": "stranger@example.com"}).status_code in {
            200,
            429,
        }
    assert 1 <= len(_mails(h.app, "stranger@example.com")) <= 5


# --- CWE-565: cookies per product, products on their own hostnames ----------------------------


def test_cwe_565_each_product_has_its_own_session_cookie(h: Helper) -> None:
    response = h.sign_in(*h.password_user)
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith(f"{h.product}_session=") for c in cookies)
    assert h.app.config["SESSION_COOKIE_NAME"] not in {"session", "gw_session"}
    page = h.app.test_client().get("/login").get_data(as_text=True)
    assert "own hostname" in page  # the demo says what production does differently
