"""A product's own login page sends linked users to the gateway (SPEC 12, 13; issue 5 item 3)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.console import current_code
from tests.support.csrf import csrf_from, without_csrf
from tests.support.product_servers import (
    GATEWAY_URL,
    SEGMENT_ALICE,
    page,
    product_browser,
    product_login,
)


def _gateway_path(location: str) -> str:
    assert location.startswith(GATEWAY_URL + "/login?"), location
    return location.removeprefix(GATEWAY_URL)


def test_linked_user_is_sent_to_the_gateway_and_lands_in_the_product_after_2fa(
    person, products
):
    user = person.create_user("alice@example.com", totp=True)
    person.email = "alice@example.com"
    person.force_session(user)
    assert person.link("segment", *SEGMENT_ALICE).status_code == 302
    person.sign_out()
    segment = products["segment"]
    browser = product_browser()
    browser.get(segment.url + "/login?next=/settings", timeout=5)

    sent = product_login(browser, segment.url, "ALICE@example.com")
    assert sent.status_code == 302
    login_path = _gateway_path(sent.headers["Location"])
    query = parse_qs(urlsplit(login_path).query)
    assert query == {"login_hint": ["alice@example.com"], "next": ["/segment/"]}

    form = person.client.get(login_path)
    assert form.status_code == 200 and 'value="alice@example.com"' in page(form)
    [event] = person.events("product_login_redirect")
    assert event.user_id == user.id and "segment" in event.detail
    step = person.sign_in("alice@example.com", next="/segment/")
    assert step.status_code == 302 and step.headers["Location"].endswith("/login/2fa")
    done = person.enter_code(current_code(user.totp_secret))
    assert done.status_code == 302 and done.headers["Location"] == "/segment/"
    inside = person.client.get("/segment/")
    assert inside.status_code == 200 and "alice@example.com" in page(inside)


def test_return_path_inside_the_product_is_kept(person, products):
    person.sign_up_and_in("alice@example.com")
    assert person.link("segment", *SEGMENT_ALICE).status_code == 302
    segment = products["segment"]
    browser = product_browser()
    login_page = browser.get(segment.url + "/settings", timeout=5)
    assert "/login" in login_page.url
    token_page = browser.get(segment.url + "/login?next=/settings", timeout=5).text
    token = csrf_from(token_page)

    sent = browser.post(
        segment.url + "/login",
        data={"csrf_token": token, "email": "alice@example.com", "next": "/settings"},
        allow_redirects=False,
        timeout=5,
    )

    query = parse_qs(urlsplit(sent.headers["Location"]).query)
    assert query["next"] == ["/segment/settings"]


def test_console_created_user_is_sent_to_the_gateway(person, products):
    person.sign_up_and_in("bob@example.com")
    assert person.create("sendgrid").status_code == 302

    sent = product_login(product_browser(), products["sendgrid"].url, "bob@example.com")

    assert sent.status_code == 302
    query = parse_qs(urlsplit(_gateway_path(sent.headers["Location"])).query)
    assert query["next"] == ["/sendgrid/"]


def test_product_login_page_through_the_gateway_redirects_too(person, products):
    person.sign_up_and_in("alice@example.com")
    assert person.link("segment", *SEGMENT_ALICE).status_code == 302
    person.sign_out()
    form = person.client.get("/segment/login")
    assert form.status_code == 200
    token = csrf_from(page(form))

    sent = person.client.post(
        "/segment/login", data={"csrf_token": token, "email": "alice@example.com"}
    )

    assert sent.status_code == 302
    assert "login_hint=alice%40example.com" in sent.headers["Location"]


def test_unlinked_user_keeps_the_product_password(products):
    segment = products["segment"]
    browser = product_browser()

    asked = product_login(browser, segment.url, "bob@example.com")
    assert asked.status_code == 200 and 'name="password"' in asked.text
    logged_in = product_login(browser, segment.url, "bob@example.com", "segment-bob-pass")

    assert logged_in.status_code == 302
    assert browser.get(segment.url + "/", allow_redirects=False, timeout=5).status_code == 200


@pytest.mark.parametrize("product", ["segment", "sendgrid"])
def test_unknown_email_gets_the_same_answer_as_an_unlinked_one(products, product):
    base = products[product].url
    unlinked = {"segment": "bob@example.com", "sendgrid": "erin@sendgrid.example"}[product]

    known = product_login(product_browser(), base, unlinked)
    unknown = product_login(product_browser(), base, "nobody@example.com")

    assert known.status_code == unknown.status_code == 200
    assert _shape(known.text, unlinked) == _shape(unknown.text, "nobody@example.com")


def _shape(html: str, email: str) -> str:
    return without_csrf(html.replace(email, "X"))


def test_login_hint_audit_is_no_oracle(person, products):
    person.sign_up_and_in("alice@example.com")
    person.sign_out()
    person.client.get("/login")  # shows (and so clears) "You are signed out."

    known = person.client.get("/login?login_hint=alice@example.com&next=/segment/")
    unknown = person.client.get("/login?login_hint=zed@example.com&next=/segment/")
    person.client.get("/login?login_hint=alice@example.com&next=/settings")  # not a product

    assert known.status_code == unknown.status_code == 200
    # The same page but for the address (filled in the field and the reset link).
    shown = page(known).count("alice@example.com")
    assert shown == page(unknown).count("zed@example.com") > 0
    assert len(page(known)) - shown * len("alice") == len(page(unknown)) - shown * len("zed")
    events = person.events("product_login_redirect")
    assert sorted(e.user_id is None for e in events) == [False, True]
