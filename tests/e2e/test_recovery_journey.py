"""Nobody is locked out for good (issue 12), in a real headless Chromium against the real stack.

A person with 2FA and a linked Segment user starts on Segment's own login page (which says why
the old Segment password no longer works), is handed to the gateway (which names Segment),
has forgotten the password: asks for a reset, opens the mailed link from the developer
mailbox, proves 2FA with a saved recovery code, sets a new password, and sees how many codes
are left. Then signs in again ticking "Remember this device", is let in on the next sign-in
with the password alone, finds the device in settings, forgets it, and is asked for the code
again. A screenshot per step under ``test-artifacts/screenshots/<test>/NN-step.png``.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from tests.e2e.browser import Steps
from tests.support import people
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

OLD_PASSWORD = "the password I forgot"
NEW_PASSWORD = "a brand new remembered passphrase"


def see(page: Any, text: str) -> None:
    expect(page.get_by_text(text, exact=False).first).to_be_visible()


def sign_in_password(page: Any, gateway: str, email: str, password: str) -> None:
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Any, gateway: str) -> None:
    page.goto(gateway + "/settings")
    page.get_by_role("button", name="Sign out").first.click()
    page.wait_for_url(re.compile(r"/login"))


def test_forgotten_password_and_remembered_device(stack: Stack, browser_page: Steps) -> None:
    steps, page, gateway = browser_page, browser_page.page, stack.gateway_url
    email = f"forgetful-{uuid.uuid4().hex[:8]}@example.com"
    console_id, secret, codes = people.create_console_user_with_2fa(stack, email, OLD_PASSWORD)
    people.create_linked_product_user(stack, "segment", email, console_id)

    # Segment's own login page explains the Console sign-in, then hands the person over.
    page.goto(stack.url("segment") + "/login")
    see(page, "Segment uses your Console sign-in")
    steps.shot("segment-login-explains")
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(re.escape(gateway) + r"/login\?login_hint="))
    see(page, "Segment now uses your Console sign-in.")
    assert page.get_by_label("Email").input_value() == email
    steps.shot("gateway-names-segment")

    # The old password fails; the message says what repeated failures do and offers the reset.
    page.get_by_label("Password", exact=True).fill("is it this one maybe")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password.")
    expect(page.get_by_role("alert")).to_contain_text("failed attempts in a row")
    steps.shot("wrong-password-explains-lockout")
    page.get_by_role("alert").get_by_role("link", name="Forgot your password? Reset it").click()
    page.wait_for_url(re.compile(re.escape(gateway) + r"/forgot-password(\?.*)?$"))

    # The typed address came along; ask for a link: the same answer for any address.
    assert page.get_by_label("Email").input_value() == email
    steps.shot("forgot-password")
    page.get_by_role("button", name="Send reset link").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    steps.shot("reset-link-sent")

    # Open the mailed link (the developer mailbox), prove 2FA with a recovery code.
    page.goto(gateway + "/dev/mailbox")
    mail = page.locator(f'article[data-recipient="{email}"]').first
    expect(mail.get_by_role("heading", name="Reset your password")).to_be_visible()
    steps.shot("mailbox")
    mail.locator('a[href*="/reset-password?token="]').click()
    page.wait_for_url(re.compile(r"/reset-password\?token="))
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    steps.shot("reset-form")
    page.get_by_role("link", name="Use a recovery code instead").click()
    page.wait_for_url(re.compile(r"use=recovery"))
    assert page.get_by_label("Recovery code").get_attribute("inputmode") == "text"
    page.get_by_label("New password").fill(NEW_PASSWORD)
    page.get_by_label("Recovery code").fill(codes[0])
    steps.shot("reset-with-recovery-code")
    page.get_by_role("button", name="Set new password").click()
    page.wait_for_url(gateway + "/settings/2fa/recovery-code-used")
    expect(page.get_by_test_id("recovery-left")).to_have_text("9")
    expect(page.get_by_role("link", name="Create new recovery codes")).to_be_visible()
    steps.shot("recovery-codes-left")
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(gateway + "/")
    steps.shot("signed-in-after-reset")

    # Sign in again with the new password and the authenticator, remembering this browser.
    sign_out(page, gateway)
    sign_in_password(page, gateway, email, NEW_PASSWORD)
    page.wait_for_url(gateway + "/login/2fa")
    assert page.get_by_label("Authentication code").get_attribute("inputmode") == "numeric"
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_label("Remember this device for 30 days").check()
    steps.shot("code-and-remember")
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(gateway + "/")
    steps.shot("signed-in-remembered")

    # Next time the password alone lets this browser in; a wrong one still does not.
    sign_out(page, gateway)
    sign_in_password(page, gateway, email, "not my new password")
    expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password.")
    sign_in_password(page, gateway, email, NEW_PASSWORD)
    page.wait_for_url(gateway + "/")
    steps.shot("no-code-asked")

    # The device is listed in settings; forgetting it brings the code step back.
    page.goto(gateway + "/settings")
    page.get_by_role("navigation", name="Settings").get_by_role(
        "link", name="Remembered devices").click()
    page.wait_for_url(gateway + "/settings/devices")
    row = page.get_by_test_id("remembered-device")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("this browser")
    last_used = row.locator("time").first.get_attribute("datetime") or ""
    assert last_used.startswith(time.strftime("%Y-%m-%d", time.gmtime()))  # used today
    steps.shot("remembered-devices")
    row.get_by_role("button", name=re.compile("Forget")).click()
    see(page, "No device is remembered.")
    steps.shot("device-forgotten")
    sign_out(page, gateway)
    sign_in_password(page, gateway, email, NEW_PASSWORD)
    page.wait_for_url(gateway + "/login/2fa")
    steps.shot("code-asked-again")


def test_lost_authenticator_replaced_after_a_recovery_code(
    stack: Stack, browser_page: Steps
) -> None:
    """The phone is lost: in with a recovery code, then "Replace authenticator app" (a new key
    scanned and confirmed), and the old app's codes stop working (issue 22, item 3)."""
    steps, page, gateway = browser_page, browser_page.page, stack.gateway_url
    email = f"lost-phone-{uuid.uuid4().hex[:8]}@example.com"
    _console_id, old_secret, codes = people.create_console_user_with_2fa(
        stack, email, OLD_PASSWORD)
    sign_in_password(page, gateway, email, OLD_PASSWORD)
    page.wait_for_url(gateway + "/login/2fa")
    page.get_by_role("link", name=re.compile("^Lost your passkey")).click()
    page.get_by_label("Recovery code").fill(codes[0])
    steps.shot("recovery-code")
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(gateway + "/settings/2fa/recovery-code-used")
    steps.shot("recovery-code-used")
    page.get_by_role("link", name="Replace your authenticator app").click()
    page.wait_for_url(gateway + "/settings/2fa/replace")
    expect(page.get_by_role("heading", name="Replace your authenticator app")).to_be_visible()
    new_secret = re.sub(r"\s", "", page.get_by_test_id("totp-secret").inner_text())
    assert new_secret != old_secret
    page.get_by_label("Authentication code").fill(pyotp.TOTP(new_secret).now())
    steps.shot("new-key-scanned")
    page.get_by_role("button", name="Replace").click()
    page.wait_for_url(gateway + "/settings")
    see(page, "Authenticator app replaced")
    expect(page.get_by_test_id("2fa-status")).to_have_text("On: authenticator app")
    steps.shot("replaced")

    # The old app's code no longer signs in; the new one does.
    sign_out(page, gateway)
    sign_in_password(page, gateway, email, OLD_PASSWORD)
    page.wait_for_url(gateway + "/login/2fa")
    later = time.time() + 30  # the confirmation spent the current step
    page.get_by_label("Authentication code").fill(pyotp.TOTP(old_secret).at(later))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_be_visible()
    steps.shot("old-app-refused")
    page.get_by_label("Authentication code").fill(pyotp.TOTP(new_secret).at(later))
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(gateway + "/")
    steps.shot("new-app-signs-in")
