"""Link an existing product user, create a new one, and the refusals (SPEC 11, 12)."""

from __future__ import annotations

import pytest
import requests
from sqlalchemy import select

from gateway.db import new_session
from gateway.models import ProductLink, User, utcnow
from product_stubs.kit.db import session_factory
from product_stubs.kit.models import Membership
from tests.support.csrf import csrf_from
from tests.support.product_servers import (
    SEGMENT_ALICE,
    SENDGRID_ALICE,
    SENDGRID_DAVE,
    Person,
    page,
    product_browser,
    product_login,
)
from tests.support.served import stop

EXISTING = [
    pytest.param("segment", SEGMENT_ALICE, id="segment-alice"),
    pytest.param("sendgrid", SENDGRID_DAVE, id="sendgrid-dave"),
]


@pytest.mark.parametrize(("product", "credentials"), EXISTING)
def test_link_existing_user_with_its_product_password(person, products, product, credentials):
    email, password = credentials
    console = person.sign_up_and_in(email)
    first = person.client.get(f"/{product}/settings?tab=1", headers={"Accept": "text/html"})
    assert first.status_code == 302
    choice = person.client.get(first.headers["Location"])
    assert choice.status_code == 200
    assert "Link your existing" in page(choice) and "Create a new" in page(choice)

    answer = person.link(product, email, password, next=f"/{product}/settings?tab=1")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith(f"/{product}/settings?tab=1&gw_notice=")
    product_user = products[product].user(email)
    assert product_user.external_id == console.id
    assert person.links() == [(product, product_user.id, "linked")]
    [event] = person.events("product_linked")
    assert event.user_id == console.id and product in event.detail
    inside = person.client.get(f"/{product}/settings?tab=1")
    assert inside.status_code == 200 and email in page(inside)


LINKED_NOTICE = "Your Segment user is linked: you sign in to Segment with your Console account now."


def test_the_product_page_you_land_on_says_it_once(person, products):
    """After linking, the product page the person lands on says so (a one-time notice the
    product verifies and words itself), then the address is clean; nothing waits in the
    Console to turn up on an unrelated page later."""
    person.sign_up_and_in("alice@example.com")
    landing = person.link("segment", *SEGMENT_ALICE, next="/segment/settings?tab=1")
    landing_url = landing.headers["Location"]
    shown = person.client.get(landing_url)
    assert shown.status_code == 302 and shown.headers["Location"] == "/segment/settings?tab=1"
    assert LINKED_NOTICE in page(person.client.get(shown.headers["Location"]))
    replayed = person.client.get(landing_url)
    assert LINKED_NOTICE not in page(person.client.get(replayed.headers["Location"]))
    assert "is linked" not in page(person.client.get("/"))
    assert "is linked" not in page(person.client.get("/settings"))


def test_a_created_user_is_told_on_the_product_page(person, products):
    person.sign_up_and_in("newbie@example.com")
    landing = person.create("sendgrid", next="/sendgrid/")
    shown = person.client.get(landing.headers["Location"])
    assert shown.headers["Location"] == "/sendgrid/"
    assert "Your SendGrid user is created and linked" in page(person.client.get("/sendgrid/"))


def test_a_forged_or_borrowed_notice_shows_nothing(person, products, gateway):
    """The notice cannot be made to say anything: a token with a broken signature, or a real
    one opened by another person, shows no words (and no error either)."""
    person.sign_up_and_in("alice@example.com")
    landing_url = person.link("segment", *SEGMENT_ALICE, next="/segment/").headers["Location"]
    forged = landing_url[:-4] + ("AAAA" if not landing_url.endswith("AAAA") else "BBBB")
    shown = person.client.get(forged)
    assert shown.status_code == 302 and shown.headers["Location"] == "/segment/"
    assert LINKED_NOTICE not in page(person.client.get("/segment/"))
    other = Person(gateway, gateway.test_client())
    other.sign_up_and_in("bob@example.com")
    other.create("segment")
    borrowed = other.client.get(landing_url)
    assert borrowed.status_code == 302
    assert "is linked" not in page(other.client.get("/segment/"))


def test_wrong_password_is_generic_and_throttled(person, products):
    person.sign_up_and_in("alice@example.com")
    for _ in range(3):  # LOGIN_MAX_FAILURES = 3 in these tests
        answer = person.link("segment", "alice@example.com", "not-the-password")
        assert answer.status_code == 401
        assert "did not match a Segment user" in page(answer)
        # At the password field, and in the error summary as a link to it.
        assert 'id="password-error">That email and password did not match' in page(answer)
        assert '<a href="#password">Segment password: That email' in page(answer)
    unknown = person.link("segment", "nobody@example.com", "whatever-password")
    assert unknown.status_code == 401 and "did not match a Segment user" in page(unknown)

    blocked = person.link("segment", "alice@example.com", SEGMENT_ALICE[1])

    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert person.links() == []
    assert products["segment"].user("alice@example.com").external_id is None


def test_email_mismatch_names_both_addresses(person, products):
    person.sign_up_and_in("pat@example.com")

    answer = person.link("segment", "carol@segment.example", "segment-carol-pass")

    assert answer.status_code == 409
    text = page(answer)
    assert "carol@segment.example" in text and "pat@example.com" in text
    assert "Console settings" in text and "change the email of your Segment user" in text
    assert person.links() == []
    assert products["segment"].user("carol@segment.example").external_id is None


def test_product_email_of_another_console_account_offers_the_ways_that_work(
    person, products, gateway
):
    """The Segment user's email is another Console account's: changing this Console email to
    it would be refused ("already in use"), so the page offers what works instead: link it
    from that account (sign out, sign in as it, back here), or Segment's own sign-in."""
    person.sign_up_and_in("pat@example.com")
    with gateway.app_context(), new_session() as db:
        db.add(User(email="carol@segment.example", password_hash="x", email_verified_at=utcnow()))
        db.commit()

    answer = person.link("segment", "carol@segment.example", "segment-carol-pass",
                         next="/segment/settings")

    assert answer.status_code == 409
    text = page(answer)
    assert "carol@segment.example is the email of another Console account" in text
    assert "Console settings" not in text  # the way that loops is not offered
    assert 'action="/logout"' in text
    sign_in_as = "/login?login_hint=carol@segment.example&next=/segment/settings"
    assert f'value="{sign_in_as.replace("&", "&amp;")}"' in text
    assert 'href="/segment/login"' in text and "Segment's own sign-in" in text
    assert person.links() == []
    # The button signs this browser out and opens the sign-in for that account, back here.
    out = person.client.post("/logout", data={"csrf_token": csrf_from(text), "next": sign_in_as})
    assert out.status_code == 302 and out.location == sign_in_as


def test_product_user_linked_in_gateway_to_another_console_user(person, products, gateway):
    """The gateway holds the link for someone else (e.g. after an email change elsewhere)."""
    person.sign_up_and_in("alice@example.com")
    product_user = products["segment"].user("alice@example.com")
    with gateway.app_context(), new_session() as db:
        other = User(email="other@example.com", password_hash="x")
        db.add(other)
        db.flush()
        db.add(ProductLink(user_id=other.id, product="segment", product_user_id=product_user.id))
        db.commit()

    answer = person.link("segment", *SEGMENT_ALICE)

    assert answer.status_code == 409
    assert "already linked to another Console user" in page(answer)
    assert person.links() == []
    assert products["segment"].user("alice@example.com").external_id is None


def test_product_user_already_linked_in_product_cannot_be_proved(person, products):
    """Linking disabled its password: a second Console user gets the generic refusal."""
    person.sign_up_and_in("alice@example.com")
    segment = products["segment"]
    with segment.app.app_context():
        from product_stubs.segment import link_user_for_demo

        link_user_for_demo(segment.app, "alice@example.com", "someone-else")

    answer = person.link("segment", *SEGMENT_ALICE)

    assert answer.status_code == 401
    assert person.links() == []
    assert segment.user("alice@example.com").external_id == "someone-else"


def test_relinking_is_idempotent(person, products):
    person.sign_up_and_in("alice@example.com")
    assert person.link("segment", *SEGMENT_ALICE).status_code == 302

    again = person.link("segment", *SEGMENT_ALICE, next="/segment/x")
    choice = person.client.get("/link/segment?next=/segment/y")

    assert again.status_code == 302 and again.headers["Location"] == "/segment/x"
    assert choice.status_code == 302 and choice.headers["Location"] == "/segment/y"
    assert len(person.links()) == 1
    assert len(person.events("product_linked")) == 1


def test_unverified_console_email_is_refused(person, products):
    person.sign_up_and_in("alice@example.com", verified=False)

    linked = person.link("segment", *SEGMENT_ALICE)
    created = person.create("sendgrid")

    assert linked.status_code == 403 and created.status_code == 403
    assert "Confirm your Console email" in page(linked)
    assert person.links() == []
    assert products["segment"].user("alice@example.com").external_id is None
    assert products["sendgrid"].user("alice@example.com").external_id is None


def test_create_new_sendgrid_user(person, products):
    console = person.sign_up_and_in("bob@example.com")
    assert products["sendgrid"].user("bob@example.com") is None

    answer = person.create("sendgrid", next="/sendgrid/")

    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/sendgrid/?gw_notice=")
    sendgrid = products["sendgrid"]
    created = sendgrid.user("bob@example.com")
    assert created.external_id == console.id and created.created_by_console
    assert created.password_hash is None
    with session_factory(sendgrid.app)() as db:
        membership = db.scalar(select(Membership).where(Membership.user_id == created.id))
        assert membership.role == "owner" and membership.container.plan == "free"
    assert person.links() == [("sendgrid", created.id, "created")]
    assert len(person.events("product_created")) == 1
    inside = person.client.get("/sendgrid/")
    assert inside.status_code == 200 and "bob@example.com" in page(inside)


def test_create_refused_when_an_unlinked_product_user_has_the_email(person, products):
    person.sign_up_and_in("dave@example.com")

    answer = person.create("sendgrid")

    assert answer.status_code == 409
    text = page(answer)
    assert "A SendGrid user with this email already exists; link it instead." in text
    assert 'name="password"' in text  # the link form is offered
    assert person.links() == []
    assert products["sendgrid"].user("dave@example.com").external_id is None


def test_create_repairs_a_link_the_gateway_did_not_record(person, products):
    """The product created the user but the gateway never stored it: retrying finishes it."""
    console = person.sign_up_and_in("bob@example.com")
    token = products["sendgrid"].token
    made = requests.post(
        products["sendgrid"].url + "/scim/v2/Users",
        json={"userName": "bob@example.com", "externalId": console.id,
              "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"]},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )
    assert made.status_code == 201

    answer = person.create("sendgrid")

    assert answer.status_code == 302
    assert person.links() == [("sendgrid", made.json()["id"], "linked")]


def test_old_password_refused_and_old_session_ended_after_linking(person, products):
    segment = products["segment"]
    browser = product_browser()
    assert product_login(browser, segment.url, *SEGMENT_ALICE).status_code == 302
    assert browser.get(segment.url + "/", allow_redirects=False, timeout=5).status_code == 200
    person.sign_up_and_in("alice@example.com")

    assert person.link("segment", *SEGMENT_ALICE).status_code == 302

    old_session = browser.get(segment.url + "/", allow_redirects=False, timeout=5)
    assert old_session.status_code == 302 and "/login" in old_session.headers["Location"]
    again = product_login(product_browser(), segment.url, *SEGMENT_ALICE)
    assert again.status_code == 302
    assert again.headers["Location"].startswith("http://gateway.test/login?login_hint=")


def test_unreachable_product_records_nothing(person, products, gateway):
    person.sign_up_and_in("alice@example.com")
    stop(products["segment"].server)

    linked = person.link("segment", *SEGMENT_ALICE)
    created = person.create("segment")

    for answer in (linked, created):
        assert answer.status_code == 503
        assert "nothing was linked or created" in page(answer)
        assert "Try again" in page(answer) and answer.headers["Retry-After"]
    assert person.links() == []
    assert person.events("product_linked") == [] and person.events("product_created") == []


def test_link_both_products_then_switcher_everywhere(person, products):
    person.sign_up_and_in("alice@example.com")
    assert person.link("segment", *SEGMENT_ALICE).status_code == 302
    assert person.link("sendgrid", *SENDGRID_ALICE).status_code == 302
    with person.app.app_context(), new_session() as db:
        assert len(list(db.scalars(select(ProductLink)))) == 2


@pytest.mark.parametrize(
    "path", ["/link/nope", "/link/nope/new", "/link/SEGMENT/existing"], ids=str
)
def test_unknown_product_is_404(person, products, path):
    person.sign_up_and_in("alice@example.com")
    assert person.client.get(path).status_code in (404, 405)


def test_link_pages_need_a_console_session(gateway, products):
    client = gateway.test_client()
    answer = client.get("/link/segment?next=/segment/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]
    assert client.post("/link/segment/new").status_code in (302, 400)


def test_link_without_csrf_token_is_refused(person, products):
    person.sign_up_and_in("alice@example.com")
    answer = person.client.post(
        "/link/segment/existing",
        data={"email": SEGMENT_ALICE[0], "password": SEGMENT_ALICE[1]},
    )
    assert answer.status_code == 400
    assert person.links() == []


def test_no_link_while_the_email_is_being_changed(person, products):
    """An email change lists the linked products when it starts; a product linked midway
    would keep the old email, so linking waits until the change has ended."""
    from gateway.models import EmailChange

    console = person.sign_up_and_in("alice@example.com")
    with person.app.app_context(), new_session() as db:
        db.add(EmailChange(user_id=console.id, old_email="alice@example.com",
                           new_email="alice@new.example", state="applying",
                           claim="alice@new.example"))
        db.commit()

    linked = person.link("segment", *SEGMENT_ALICE)

    assert linked.status_code == 409 and "being changed" in page(linked)
    assert person.links() == []
    assert products["segment"].user("alice@example.com").external_id is None
