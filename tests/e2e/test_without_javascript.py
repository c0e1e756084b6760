"""Everything but passkeys works with JavaScript switched off (issue 15, item 7), in a real
headless Chromium with scripts disabled against the real stack: sign in with a password and an
authenticator code, reach a linked product through the switcher, sign out everywhere (its
question page and its message), and sign out. Screenshots under
``test-artifacts/screenshots/<test>/NN-step.png``.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import TIMEOUT_MS, Steps, switcher_link
from tests.support import people
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "no scripts needed passphrase"


@pytest.fixture
def no_script_page(browser: Any, request: pytest.FixtureRequest) -> Steps:
    page = browser.new_context(java_script_enabled=False).new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return Steps(page, request.node.name)


def test_sign_in_browse_and_sign_out_without_javascript(
    stack: Stack, no_script_page: Steps
) -> None:
    steps, page, gateway = no_script_page, no_script_page.page, stack.gateway_url
    email = f"noscript-{uuid.uuid4().hex[:8]}@example.com"
    user_id, secret, _codes = people.create_console_user_with_2fa(stack, email, PASSWORD)
    people.create_linked_product_user(stack, "segment", email, user_id)
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    steps.shot("sign-in")
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label(re.compile("code", re.I)).first.fill(pyotp.TOTP(secret).at(time.time()))
    steps.shot("code")
    page.get_by_role("button", name=re.compile("Verify|Continue|Sign in", re.I)).first.click()
    page.wait_for_url(gateway + "/")
    steps.shot("console-home")

    switcher_link(page, "segment").click()
    page.wait_for_url(re.compile(r"/segment/"))
    expect(page.get_by_text(email).first).to_be_visible()
    steps.shot("segment")

    page.goto(gateway + "/settings/sessions")
    page.get_by_role("link", name=re.compile("Sign out everywhere")).click()
    expect(page.get_by_role("heading", name="Sign out everywhere?")).to_be_visible()
    steps.shot("sign-out-everywhere-question")
    page.get_by_role("button", name="Yes, sign out everywhere").click()
    page.wait_for_url(re.compile(r"/login"))
    expect(page.get_by_text("Signed out everywhere").first).to_be_visible()
    steps.shot("signed-out-everywhere")
    page.goto(gateway + "/segment/")
    page.wait_for_url(re.compile(r"/login"))  # the product is refused too
