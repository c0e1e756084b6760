"""The two linking journeys in a real headless Chromium, clicking as a person would (issue 5).

The stack runs as real processes (tests/support/stack.py). Demo data is loaded as the
one-command demo loads it; each step saves a screenshot under
``test-artifacts/screenshots/<test>/NN-step.png``.
"""

from __future__ import annotations

import re

import pytest

from gateway import db as gateway_db
from tests.e2e.browser import Steps, switcher_link
from tests.e2e.browser import sign_in as sign_in_as
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

CONSOLE_PASSWORD = "a console passphrase for e2e"


@pytest.fixture(scope="module")
def demo(stack: Stack) -> Stack:
    """Demo product users (as ``python app.py`` seeds them) and two verified Console users."""
    from gateway.db import new_session
    from gateway.identity.passwords import hash_password
    from gateway.models import User, utcnow
    from product_stubs import segment, sendgrid

    segment.seed_demo_data(stack.app("segment"))
    sendgrid.seed_demo_data(stack.app("sendgrid"))
    gateway = stack.app("gateway")
    with gateway.app_context(), new_session() as session:
        for email in ("alice@example.com", "bob@example.com"):
            session.add(User(email=email, password_hash=hash_password(CONSOLE_PASSWORD),
                             email_verified_at=utcnow()))
        session.commit()
    gateway_db.engine(gateway).dispose()
    return stack


def sign_in(steps: Steps, gateway: str, email: str) -> None:
    sign_in_as(steps, gateway, email, CONSOLE_PASSWORD)


def test_link_existing_segment_user_and_come_back(demo: Stack, browser_page: Steps) -> None:
    steps, page, gateway = browser_page, browser_page.page, demo.gateway_url
    sign_in(steps, gateway, "alice@example.com")
    assert "not linked" in switcher_link(page, "segment").inner_text()

    switcher_link(page, "segment").click()
    page.wait_for_url(re.compile(r"/link/segment\?next="))
    steps.shot("choice-page")
    assert page.get_by_label("Segment email").input_value() == "alice@example.com"
    page.get_by_label("Segment password").fill("segment-alice-pass")
    steps.shot("product-password-entered")
    page.get_by_role("button", name="Link Segment user").click()

    page.wait_for_url(gateway + "/segment/")
    steps.shot("inside-segment")
    assert "Acme Analytics" in page.content()
    segment_item = switcher_link(page, "segment")
    assert "linked" in segment_item.inner_text() and "not" not in segment_item.inner_text()
    assert "not linked" in switcher_link(page, "sendgrid").inner_text()

    switcher_link(page, "console").click()
    page.wait_for_url(gateway + "/")
    steps.shot("back-in-console")
    assert "not" not in switcher_link(page, "segment").inner_text()


def test_create_sendgrid_user_then_sign_in_from_sendgrid_login(
    demo: Stack, browser_page: Steps
) -> None:
    steps, page, gateway = browser_page, browser_page.page, demo.gateway_url
    sign_in(steps, gateway, "bob@example.com")

    switcher_link(page, "sendgrid").click()
    page.wait_for_url(re.compile(r"/link/sendgrid\?next="))
    steps.shot("choice-page")
    page.get_by_role("button", name="Create SendGrid user").click()
    page.wait_for_url(gateway + "/sendgrid/")
    steps.shot("inside-sendgrid")
    assert "bob@example.com" in page.content()

    page.goto(gateway + "/")
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    steps.shot("signed-out")

    page.goto(demo.url("sendgrid") + "/login")  # SendGrid's own login page, on its own port
    steps.shot("sendgrid-own-login")
    page.get_by_label("Email").fill("bob@example.com")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(re.escape(gateway) + r"/login\?login_hint="))
    steps.shot("gateway-login-prefilled")
    assert page.get_by_label("Email").input_value() == "bob@example.com"
    page.get_by_label("Password").fill(CONSOLE_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(gateway + "/sendgrid/")
    steps.shot("inside-sendgrid-through-gateway")
    assert "bob@example.com" in page.content()
