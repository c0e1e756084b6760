"""The product's own login: identifier first, password users, redirect of linked users."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from sqlalchemy.exc import NoResultFound

from tests.support.csrf import without_csrf
from tests.support.product_apps import Helper, make_product_app


def test_login_page_asks_for_email_first(h: Helper) -> None:
    page = h.client.get("/login").get_data(as_text=True)
    assert 'name="email"' in page and 'autocomplete="username"' in page
    assert 'name="password"' not in page


def test_identifier_first_then_password(h: Helper) -> None:
    email, password = h.password_user
    step = h.client.post("/login", data={"email": email.upper() + " "})
    page = step.get_data(as_text=True)
    assert step.status_code == 200
    assert 'autocomplete="current-password"' in page and email in page
    done = h.sign_in(email, password)
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert h.client.get("/").status_code == 200


def test_unknown_email_gets_the_same_password_step(h: Helper) -> None:
    known = h.client.post("/login", data={"email": h.password_user[0]}).get_data(as_text=True)
    unknown = h.client.post("/login", data={"email": "nobody@example.com"}).get_data(as_text=True)
    assert without_csrf(known.replace(h.password_user[0], "X")) == without_csrf(
        unknown.replace("nobody@example.com", "X")
    )


@pytest.mark.parametrize("password", ["wrong-password", "", "x" * 5000])
def test_wrong_password_gets_generic_error(h: Helper, password: str) -> None:
    response = h.sign_in(h.password_user[0], password)
    assert response.status_code == 200
    assert "Invalid email or password." in response.get_data(as_text=True)
    assert h.client.get("/", headers={"Accept": "application/json"}).status_code == 401


def test_unknown_email_password_step_generic_error(h: Helper) -> None:
    response = h.sign_in("nobody@example.com", "whatever-password")
    assert "Invalid email or password." in response.get_data(as_text=True)


@pytest.mark.parametrize("how", ["linked", "console_created"])
def test_linked_or_console_user_redirected_to_gateway(h: Helper, how: str) -> None:
    if how == "linked":
        email, password = h.password_user
        assert h.link(h.user(email).id, "console-1").status_code == 200
    else:
        email = "fromconsole@example.com"
        h.create_scim_user(email)
    for data in ({"email": email}, {"email": email, "step": "password", "password": "x"}):
        response = h.client.post("/login", data=data)
        assert response.status_code == 302
        target = urlsplit(response.headers["Location"])
        assert f"{target.scheme}://{target.netloc}" == "http://127.0.0.1:5000"
        assert target.path == "/login"
        query = parse_qs(target.query)
        assert query == {"login_hint": [email], "next": [f"/{h.product}/"]}


def test_signup_creates_owner_and_logs_in(h: Helper) -> None:
    page = h.client.get("/signup").get_data(as_text=True)
    assert 'autocomplete="email"' in page
    response = h.sign_up("New@Example.com", "a long enough password")
    assert response.status_code == 302
    home = h.client.get("/").get_data(as_text=True)
    assert "new@example.com" in home and "owner" in home
    other = h.app.test_client()
    assert h.sign_in("new@example.com", "a long enough password", other).status_code == 302


@pytest.mark.parametrize("email", ["not-an-email", "x" * 300 + "@example.com"])
def test_signup_refusals(h: Helper, email: str) -> None:
    assert h.client.post("/signup", data={"email": email}).status_code == 400


@pytest.mark.parametrize("email", ["alice@example.com", "ALICE@example.com "])
def test_signup_of_a_taken_email_creates_nothing(h: Helper, email: str) -> None:
    """Same answer as for a new address (no enumeration); the owner is told by mail."""
    if h.product == "sendgrid":
        email = email.replace("alice", "dave").replace("ALICE", "DAVE")
    before = h.user(email.strip().lower())
    response = h.client.post("/signup", data={"email": email})
    assert response.status_code == 200 and "Check your inbox" in response.get_data(as_text=True)
    assert h.user(email.strip().lower()).password_hash == before.password_hash


def test_signup_password_rules(h: Helper) -> None:
    response = h.sign_up("short@example.com", "short")
    assert response.status_code == 400
    with pytest.raises(NoResultFound):
        h.user("short@example.com")


def test_logout_ends_server_side_session(h: Helper) -> None:
    email, password = h.password_user
    h.sign_in(email, password)
    with h.client.session_transaction() as sess:
        stolen = dict(sess)
    assert h.client.post("/logout").status_code == 302
    with h.client.session_transaction() as sess:
        sess.update(stolen)  # a copy of the old cookie no longer works
    assert h.client.get("/", headers={"Accept": "application/json"}).status_code == 401


def test_next_is_followed_only_when_safe(h: Helper) -> None:
    email, password = h.password_user
    data = {"step": "password", "email": email, "password": password}
    ok = h.client.post("/login", data=data | {"next": "/settings"})
    assert ok.headers["Location"] == "/settings"
    h.client.post("/logout")
    bad = h.client.post("/login", data=data | {"next": "//evil.example/x"})
    assert bad.headers["Location"] == "/"


def test_browser_without_identity_goes_to_login(h: Helper) -> None:
    response = h.client.get("/settings", headers={"Accept": "text/html"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/settings"
    api = h.client.get("/settings", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.get_json() == {"error": "not_authenticated"}


def test_login_throttled_per_email(module: Any, product: str, tmp_path: Any) -> None:
    app = make_product_app(module, product, tmp_path, LOGIN_EMAIL_MAX_FAILURES=3)
    helper = Helper(app, app.test_client(), product)
    email, password = helper.password_user
    for _ in range(3):
        helper.sign_in(email, "wrong password!")
    response = helper.sign_in(email, password)  # even the right password waits
    assert response.status_code == 429 and int(response.headers["Retry-After"]) > 0


def test_login_throttled_per_ip(module: Any, product: str, tmp_path: Any) -> None:
    app = make_product_app(module, product, tmp_path, LOGIN_IP_MAX_ATTEMPTS=3)
    client = app.test_client()
    for i in range(3):
        assert client.post("/login", data={"email": f"u{i}@example.com"}).status_code == 200
    response = client.post("/login", data={"email": "u9@example.com"})
    assert response.status_code == 429 and "Retry-After" in response.headers
    other_ip = client.post(
        "/login", data={"email": "u9@example.com"}, environ_base={"REMOTE_ADDR": "10.9.9.9"}
    )
    assert other_ip.status_code == 200


def test_csrf_is_required_on_forms(module: Any, product: str, tmp_path: Any) -> None:
    app: Flask = make_product_app(module, product, tmp_path, WTF_CSRF_ENABLED=True)
    client = app.test_client()
    email, password = Helper(app, client, product).password_user
    response = client.post(
        "/login", data={"step": "password", "email": email, "password": password}
    )
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    # The bearer-token APIs are exempt.
    scim = client.get(
        "/scim/v2/Users", headers={"Authorization": f"Bearer {app.config['SCIM_TOKEN']}"}
    )
    assert scim.status_code == 200


def test_forged_forwarded_prefix_cannot_redirect_elsewhere(h: Helper) -> None:
    """A product ignores a prefix that is not its own, even signed by the gateway, and any
    prefix a direct client sends without the gateway's signature."""
    client, product = h.client, h.product
    page = client.get("/login", headers={"X-Forwarded-Prefix": "//evil.example"})
    assert "evil.example" not in page.get_data(as_text=True)
    signed = client.get("/login", headers=h.forwarded("/login", prefix="//evil.example"))
    assert "evil.example" not in signed.get_data(as_text=True)
    unsigned = client.get("/login", headers={"X-Forwarded-Prefix": f"/{product}"})
    assert f'action="/{product}/login' not in unsigned.get_data(as_text=True)
    own = client.get("/login", headers=h.forwarded("/login"))
    assert f'action="/{product}/login' in own.get_data(as_text=True)
