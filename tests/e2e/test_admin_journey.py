"""A support agent with only a browser helps a locked-out person (issue 24), in headless
Chromium against the real stack.

Someone typed wrong passwords at Pat's account until it paused. Pat calls support. The agent
signs in (password and authenticator code), finds Pat by email, sees "Locked out" and until
when, and sends a password-reset link with a reason. Pat opens the mailed link, sets a new
password and is in (a reset passes and lifts the lock). The agent sees the reset mail and the
reset in Pat's recent activity; Pat's own activity page names the action, not the agent.
"""

from __future__ import annotations

import re
import uuid

import pyotp
import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.browser import Steps, new_page
from tests.support import people
from tests.support.csrf import csrf_from
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a fresh passphrase from support"


def lock_out(gateway: str, email: str) -> None:
    """A stranger's wrong passwords until the account pauses (429)."""
    client = requests.Session()
    for _ in range(12):
        page = client.get(gateway + "/login").text
        answer = client.post(gateway + "/login", data={
            "csrf_token": csrf_from(page), "email": email, "password": "not it at all!"})
        if answer.status_code == 429:
            return
    raise AssertionError("the account did not pause")


def test_support_agent_helps_a_locked_out_person(stack: Stack, browser_page: Steps) -> None:
    steps, page, gateway = browser_page, browser_page.page, stack.gateway_url
    tag = uuid.uuid4().hex[:8]
    agent_email, pat_email = f"agent-{tag}@example.com", f"pat-{tag}@example.com"
    agent_id, secret, _codes = people.create_console_user_with_2fa(stack, agent_email, PASSWORD)
    people.grant_role(stack, agent_id, "support")
    people.create_console_user(stack, pat_email, PASSWORD)
    lock_out(gateway, pat_email)

    # The agent signs in with both factors and opens the operator console.
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(agent_email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(gateway + "/login/2fa")
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name=re.compile("^(Verify|Continue|Sign in)")).click()
    page.wait_for_url(gateway + "/")
    page.get_by_role("link", name="Operator console").first.click()
    page.wait_for_url(gateway + "/admin/people")
    page.get_by_label("Email, account id or product user id").fill(pat_email)
    page.get_by_role("button", name="Search").click()
    steps.shot("search")
    page.get_by_role("link", name=pat_email).click()
    expect(page.get_by_test_id("lock-state")).to_contain_text("Locked out")
    # Support may not lift the lock or reset 2FA; it may send the reset link.
    expect(page.locator('form[data-action="lift-lockout"]')).to_have_count(0)
    expect(page.locator('form[data-action="reset-2fa"]')).to_have_count(0)
    steps.shot("person-locked-out")
    form = page.locator('form[data-action="send-reset"]')
    form.get_by_label("Reason").fill("Caller verified by date of birth, ticket 1234")
    form.get_by_role("button", name="Send password reset link").click()
    expect(page.get_by_role("status")).to_contain_text("Password reset link mailed.")
    steps.shot("reset-sent")

    # Pat opens the mailed link in another browser and chooses a new password.
    mailbox = requests.get(gateway + "/dev/mailbox", timeout=10).text
    links = re.findall(r'href="(http[^"]*/reset-password\?token=[^"]+)"', mailbox)
    assert links, "no reset link in the mailbox"
    pat = new_page(page.context.browser)
    pat.goto(links[0].replace("&amp;", "&"))
    pat.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    pat.get_by_role("button", name="Set new password").click()
    pat.wait_for_url(re.compile(re.escape(gateway) + r"/(settings|$)"))
    pat.goto(gateway + "/settings/activity")
    expect(pat.get_by_text("Password reset link sent by the site's support team")).to_be_visible()
    assert agent_email not in pat.content()

    # The agent sees the lock gone and the reset in Pat's activity.
    page.reload()
    expect(page.get_by_test_id("lock-state")).to_contain_text("Not locked")
    events = page.get_by_test_id("person-events")
    expect(events).to_contain_text("Password reset from the emailed link")
    steps.shot("after-reset")
