"""The Product Switcher before and after linking, on the Console and on both products (SPEC 10)."""

from __future__ import annotations

import jwt
import pytest

from gateway.assertion import AssertionVerifier, InvalidAssertion, StaticJwks
from gateway.proxy.signing import sign_assertion
from tests.support.keys import parts, shared_store
from tests.support.product_servers import SEGMENT_ALICE, SENDGRID_ALICE, page, switcher_state

ISSUER = "http://gateway.test"


def test_switcher_before_and_after_linking_on_both_products(person, products):
    person.sign_up_and_in("alice@example.com")
    before = page(person.client.get("/"))
    assert switcher_state(before) == {
        "console": "linked", "segment": "not-linked", "sendgrid": "not-linked",
    }
    assert 'aria-label="Product switcher"' in before and 'aria-current="page"' in before

    assert person.link("segment", *SEGMENT_ALICE).status_code == 302
    on_segment = page(person.client.get("/segment/"))
    assert switcher_state(on_segment) == {
        "console": "linked", "segment": "linked", "sendgrid": "not-linked",
    }
    assert 'href="http://gateway.test/" data-product="console"' in on_segment
    assert 'href="http://gateway.test/sendgrid/" data-product="sendgrid"' in on_segment
    assert "not linked yet</span> <span class=\"switcher-action\">Link your account" in on_segment

    assert person.link("sendgrid", *SENDGRID_ALICE).status_code == 302
    every = {"console": "linked", "segment": "linked", "sendgrid": "linked"}
    assert switcher_state(page(person.client.get("/sendgrid/"))) == every
    assert switcher_state(page(person.client.get("/segment/"))) == every
    assert switcher_state(page(person.client.get("/"))) == every


def test_link_page_marks_the_product_being_opened(person, products):
    person.sign_up_and_in("alice@example.com")
    html = page(person.client.get("/link/sendgrid"))
    nav = html.split('aria-label="Product switcher"', 1)[1].split("</nav>", 1)[0]
    assert 'data-product="sendgrid" aria-current="page"' in nav


def test_product_page_without_gateway_has_no_switcher(products):
    from tests.support.product_servers import product_browser, product_login

    browser = product_browser()
    product_login(browser, products["segment"].url, "bob@example.com", "segment-bob-pass")
    html = browser.get(products["segment"].url + "/", timeout=5).text
    assert "Product switcher" not in html


def _sign(**extra: object) -> str:
    return sign_assertion(
        shared_store().signing_key(), issuer=ISSUER, product="segment", console_user_id="c1",
        email="a@example.com",
        product_user_id="p1", session_id="s1", auth_methods=["pwd"], method="GET", path="/",
        **extra,  # type: ignore[arg-type]
    )


def _verifier() -> AssertionVerifier:
    return AssertionVerifier("segment", ISSUER, StaticJwks(shared_store().jwks()))


def test_links_claim_is_optional_and_verified():
    verifier = _verifier()
    without = verifier.verify(_sign(), method="GET", path="/")
    with_links = verifier.verify(
        _sign(links={"segment": True, "sendgrid": False}), method="GET", path="/"
    )
    assert without.links is None
    assert with_links.links == {"segment": True, "sendgrid": False}


@pytest.mark.parametrize("bad", [["segment"], {"segment": "yes"}, {"segment": 1}], ids=str)
def test_malformed_links_claim_is_refused(bad):
    header, payload, _ = parts(_sign())
    payload["lnk"] = bad
    token = jwt.encode(payload, shared_store().signing_key().private_key, algorithm="ES256",
                       headers=header)
    with pytest.raises(InvalidAssertion, match="malformed"):
        _verifier().verify(token, method="GET", path="/")


def test_linking_says_so_and_the_activity_names_the_product(person, products):
    person.sign_up_and_in("alice@example.com")
    landing = person.link("segment", *SEGMENT_ALICE)
    assert landing.status_code == 302
    segment = page(person.client.get(person.client.get(landing.headers["Location"]).location))
    said = "Your Segment user is linked: you sign in to Segment with your Console account"
    assert said in segment and 'class="flash" role="status"' in segment
    assert said not in page(person.client.get("/"))  # said where the person landed, not later
    activity = page(person.client.get("/settings/activity"))
    assert "Existing Segment user linked to this account" in activity


def test_products_show_who_is_signed_in_and_a_sign_out(person, products):
    person.sign_up_and_in("alice@example.com")
    assert person.link("sendgrid", *SENDGRID_ALICE).status_code == 302
    inside = page(person.client.get("/sendgrid/"))
    assert '<span class="visually-hidden">Signed in as </span>alice@example.com' in inside
    assert '<a class="signout" href="http://gateway.test/logout">Sign out</a>' in inside
    assert "Unified Login console" not in inside  # the switcher's Console item replaces it
    question = page(person.client.get("/logout"))
    assert "Sign out?" in question and "alice@example.com" in question
