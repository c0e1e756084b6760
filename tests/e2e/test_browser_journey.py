"""A person's whole journey through Unified Login in a real headless Chromium (issue 7, item 3).

Clicking and typing as a person would (accessible locators: labels, roles, names), with a
screenshot per step under ``test-artifacts/screenshots/<test>/NN-step.png``: sign-up, email
verification from the developer mailbox, 2FA enrolment with a code computed from the key shown on
the page, recovery codes, sign-in with 2FA, linking an existing Segment user, creating a SendGrid
user, an email change confirmed from the mailbox, and "Sign out everywhere". Then a keyboard-only
run of the login page and the Product Switcher.
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from gateway import db as gateway_db
from tests.e2e.browser import TIMEOUT_MS, Steps, is_linked, new_page, switcher, switcher_link
from tests.support import people
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "a long journey passphrase"
SEGMENT_PASSWORD = "my old segment password"
STEP_SECONDS = 30


def authenticator_code(secret: str, after_step: int | None = None) -> tuple[str, int]:
    """The code an authenticator app shows now, and its time step.

    A code is accepted once: when the current step was already used (``after_step``), the
    code of the step after it, as an app whose clock runs up to 30 s ahead shows (the gateway
    accepts one step of drift either way), rather than waiting up to 30 s for it.
    """
    step = int(time.time()) // STEP_SECONDS
    if after_step is not None and step <= after_step:
        step = after_step + 1
        assert step <= int(time.time()) // STEP_SECONDS + 1, "no code within the drift allowed"
    return pyotp.TOTP(secret).at(step * STEP_SECONDS), step


def wrong_code(secret: str) -> str:
    """Six digits that no nearby time step of ``secret`` produces."""
    totp, now = pyotp.TOTP(secret), time.time()
    near = {totp.at(now + drift) for drift in (-60, -30, 0, 30, 60)}
    return next(code for code in ("000000", "111111", "222222", "333333") if code not in near)


def open_mail_link(steps: Steps, gateway: str, recipient: str, path: str) -> None:
    """Open the developer mailbox and click the newest link to ``path`` mailed to ``recipient``."""
    page = steps.page
    page.goto(gateway + "/dev/mailbox")
    mail = page.locator(f'article[data-recipient="{recipient}"]').first
    link = mail.get_by_role("link", name=path)  # the link's text is the URL
    link.scroll_into_view_if_needed()
    steps.shot("mailbox")
    link.click()
    page.wait_for_url(re.compile(re.escape(gateway + path)))


def see(page: Any, text: str) -> None:
    """``text`` shows on the page (waiting for the page to load; not just in the HTML)."""
    expect(page.get_by_text(text, exact=False).first).to_be_visible()


def age_session(stack: Stack, email: str, minutes: int = 10) -> None:
    """Time passes: the person's last proof of identity is older than the freshness window."""
    from gateway.db import new_session
    from gateway.models import LoginSession, User, utcnow

    app = stack.app("gateway")
    with app.app_context(), new_session() as session:
        user_ids = session.query(User.id).filter(User.email == email).scalar_subquery()
        session.execute(
            update(LoginSession)
            .where(LoginSession.user_id.in_(user_ids))
            .values(authenticated_at=utcnow() - timedelta(minutes=minutes))
        )
        session.commit()
    gateway_db.engine(app).dispose()


def sign_in_with_code(steps: Steps, gateway: str, email: str, code: str) -> None:
    """Email + password, then the second step (TOTP or recovery code); lands on the Console."""
    page = steps.page
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(gateway + "/login/2fa")
    page.get_by_label("Authentication code").fill(code)
    steps.shot("second-step")
    page.get_by_role("button", name="Verify").click()
    if "-" in code:  # a recovery code: how many are left, then on
        page.wait_for_url(gateway + "/settings/2fa/recovery-code-used")
        page.get_by_role("link", name="Continue").click()
    page.wait_for_url(gateway + "/")


def test_whole_journey(stack: Stack, browser: Any, browser_page: Steps) -> None:
    steps, page, gateway = browser_page, browser_page.page, stack.gateway_url
    email = f"journey-{uuid.uuid4().hex[:8]}@example.com"
    new_email = f"renamed-{uuid.uuid4().hex[:8]}@example.com"

    # Before Unified Login: the person already has a Segment user, made on Segment's own page
    # (another browser profile: its cookies are not the gateway's).
    before = new_page(browser)
    before.goto(stack.url("segment") + "/signup")
    before.get_by_label("Email").fill(email)
    steps.shot("segment-own-signup", before)
    before.get_by_role("button", name="Sign up").click()
    see(before, "Check your inbox")
    # The link Segment mailed (its developer mailbox) opens the page that sets the password.
    before.goto(stack.url("segment") + "/dev/mailbox")
    mail = before.locator(f'article[data-recipient="{email}"]').first
    mail.locator('a[href*="/signup/confirm/"]').click()
    before.get_by_label("Password").fill(SEGMENT_PASSWORD)
    before.get_by_role("button", name="Create my user").click()
    before.wait_for_url(stack.url("segment") + "/")
    see(before, email)
    before.context.close()

    # Sign up in the Console.
    page.goto(gateway + "/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    steps.shot("signup")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    see(page, email)
    steps.shot("check-inbox")

    # An unverified account cannot sign in yet.
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Confirm your email first")).to_be_visible()
    expect(switcher(page)).to_have_count(0)
    steps.shot("unverified-refused")

    # Verify the email from the developer mailbox, in the browser that signed up: one button,
    # no password again, and signed in.
    open_mail_link(steps, gateway, email, "/verify-email")
    expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    steps.shot("confirm-email")
    page.get_by_role("button", name="Confirm email address").click()
    page.wait_for_url(gateway + "/")
    see(page, "Email address confirmed: you are signed in.")
    expect(page.get_by_test_id("console-email")).to_have_text(email)
    assert not is_linked(page, "segment") and not is_linked(page, "sendgrid")
    steps.shot("console-home")

    # 2FA enrolment: QR code and key on the page, a code computed from that key.
    page.get_by_role("link", name="Settings", exact=True).click()
    page.wait_for_url(gateway + "/settings")
    steps.shot("settings")
    page.get_by_role("link", name="Turn on").click()
    page.wait_for_url(gateway + "/settings/2fa/enable")
    expect(
        page.get_by_role("figure", name="QR code for your authenticator app").locator("svg")
    ).to_be_visible()
    secret = page.get_by_test_id("totp-secret").inner_text().replace(" ", "")  # in fours
    code_field = page.get_by_label("Authentication code")
    assert code_field.get_attribute("autocomplete") == "one-time-code"
    code_field.fill(wrong_code(secret))
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("alert")).to_contain_text("That code did not match")
    steps.shot("2fa-wrong-code")
    enrolment_code, used_step = authenticator_code(secret)
    page.get_by_label("Authentication code").fill(enrolment_code)
    steps.shot("2fa-code-entered")
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    listed = page.get_by_test_id("recovery-codes").get_by_role("listitem").all_inner_texts()
    codes = [code.strip() for code in listed]
    assert len(codes) == 10 and len(set(codes)) == 10
    steps.shot("recovery-codes")
    page.get_by_role("button", name="I saved them").click()
    page.wait_for_url(gateway + "/settings")
    see(page, "Two-factor authentication is on.")  # said where the person lands
    expect(page.get_by_test_id("2fa-status")).to_have_text("On: authenticator app")
    see(page, "10 recovery codes left.")

    # Sign out; signing in again needs the second step. The enrolment code is refused (a code
    # works once); a saved recovery code gets in.
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/login"))
    steps.shot("signed-out")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(gateway + "/login/2fa")
    page.get_by_label("Authentication code").fill(enrolment_code)
    page.get_by_role("button", name="Verify").click()
    # Still the current code (or the one before), but used: its own message (issue 12).
    expect(page.get_by_role("alert")).to_contain_text(
        re.compile("already used|did not work"))  # "did not work" only if a minute went by
    assert page.url == gateway + "/login/2fa"
    steps.shot("replayed-code-refused")
    page.get_by_label("Authentication code").fill(codes[0])
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(gateway + "/settings/2fa/recovery-code-used")
    expect(page.get_by_test_id("recovery-left")).to_have_text("9")
    steps.shot("signed-in-with-recovery-code")
    page.get_by_role("link", name="Continue").click()
    page.wait_for_url(gateway + "/")
    page.get_by_role("link", name="Settings", exact=True).click()
    see(page, "9 recovery codes left.")

    # Open Segment from the switcher: link the existing Segment user with its own password.
    switcher_link(page, "segment").click()
    page.wait_for_url(re.compile(r"/link/segment\?next="))
    steps.shot("segment-choice")
    assert page.get_by_label("Segment email").input_value() == email
    page.get_by_label("Segment password").fill("not my segment password")
    page.get_by_role("button", name="Link Segment user").click()
    expect(page.get_by_role("alert")).to_be_visible()
    steps.shot("segment-wrong-password")
    page.get_by_label("Segment password").fill(SEGMENT_PASSWORD)
    page.get_by_role("button", name="Link Segment user").click()
    page.wait_for_url(gateway + "/segment/")  # the one-time notice is out of the address
    expect(page.get_by_role("heading", name="Your workspaces")).to_be_visible()
    see(page, "Your Segment user is linked: you sign in to Segment with your Console account")
    assert is_linked(page, "segment") and not is_linked(page, "sendgrid")
    assert switcher_link(page, "segment").get_attribute("aria-current") == "page"
    steps.shot("inside-segment")

    # Back to the Console, then SendGrid: create a new SendGrid user.
    page.reload()  # said once
    expect(page.get_by_text("Your Segment user is linked")).to_have_count(0)
    switcher_link(page, "console").click()
    page.wait_for_url(gateway + "/")
    assert is_linked(page, "segment") and not is_linked(page, "sendgrid")
    expect(page.get_by_text("Your Segment user is linked")).to_have_count(0)  # not later here
    steps.shot("back-in-console")
    switcher_link(page, "sendgrid").click()
    page.wait_for_url(re.compile(r"/link/sendgrid\?next="))
    steps.shot("sendgrid-choice")
    page.get_by_role("button", name="Create SendGrid user").click()
    page.wait_for_url(gateway + "/sendgrid/")
    expect(page.get_by_role("heading", name="Your accounts")).to_be_visible()
    see(page, "Your SendGrid user is created and linked")
    see(page, "owner · free plan")
    assert is_linked(page, "segment") and is_linked(page, "sendgrid")
    steps.shot("inside-sendgrid")

    # Change the email in the Console settings; the last proof of identity is old by now, so
    # the Console asks for the password and a fresh authenticator code first.
    age_session(stack, email)
    switcher_link(page, "console").click()
    page.get_by_role("link", name="Settings", exact=True).click()
    page.get_by_role("link", name="Change email").click()
    page.wait_for_url(re.compile(r"/settings/reauthenticate\?next="))
    expect(page.get_by_role("heading", name="Confirm it is you")).to_be_visible()
    page.get_by_label("Current password").fill(PASSWORD)
    code, used_step = authenticator_code(secret, after_step=used_step)
    page.get_by_label("Authentication code").fill(code)
    steps.shot("reauthenticate")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url(gateway + "/settings/email")
    page.get_by_label("New email address").fill(new_email)
    steps.shot("new-email-entered")
    page.get_by_role("button", name="Send confirmation link").click()
    expect(page.get_by_role("heading", name="Confirm your new email")).to_be_visible()
    see(page, new_email)
    steps.shot("confirmation-sent")
    page.goto(gateway + "/")
    expect(page.get_by_test_id("console-email")).to_have_text(email)  # not changed yet

    open_mail_link(steps, gateway, new_email, "/settings/email/confirm")
    expect(page.get_by_role("heading", name="Confirm email change")).to_be_visible()
    page.get_by_role("button", name="Change my email").click()
    expect(page.get_by_test_id("new-email")).to_have_text(new_email)
    steps.shot("email-changed")

    # The new address everywhere: the Console and both products' settings (through the gateway).
    page.get_by_role("link", name="Back to settings").click()
    expect(page.get_by_test_id("settings-email")).to_have_text(new_email)
    switcher_link(page, "console").click()
    expect(page.get_by_test_id("console-email")).to_have_text(new_email)
    steps.shot("console-new-email")
    for product, history in (("segment", "linked to unified login by"),
                             ("sendgrid", "created from unified login by")):
        switcher_link(page, product).click()
        page.wait_for_url(f"{gateway}/{product}/")
        page.get_by_role("link", name="Settings", exact=True).click()
        page.wait_for_url(f"{gateway}/{product}/settings")
        see(page, f"Email: {new_email}")
        see(page, "Managed in the Console")
        see(page, f"{history} {email} at ")
        expect(page.get_by_role("link", name="Change them in the Console settings")).to_be_visible()
        expect(page.get_by_role("combobox", name="Timezone")).to_be_visible()
        steps.shot(f"{product}-settings")

    # Another browser signs in with the new email (password + a recovery code).
    other = new_page(browser)
    other.goto(gateway + "/login")
    other_steps = Steps(other, steps.folder.rsplit("/", 1)[1] + "-other-browser")
    sign_in_with_code(other_steps, gateway, new_email, codes[1])
    expect(other.get_by_test_id("console-email")).to_have_text(new_email)

    # Sign out everywhere: both browsers are sent to the login page from any Console page.
    page.goto(gateway + "/settings")
    page.get_by_role("navigation", name="Settings").get_by_role("link", name="Sessions").click()
    page.wait_for_url(gateway + "/settings/sessions")
    expect(page.get_by_role("table").locator("tbody tr")).to_have_count(2)
    steps.shot("sessions")
    # It asks first (nothing is signed out yet), then says what happened.
    page.get_by_role("link", name="Sign out everywhere").click()
    page.wait_for_url(gateway + "/settings/sessions/revoke-all")
    expect(page.get_by_role("heading", name="Sign out everywhere?")).to_be_visible()
    steps.shot("sign-out-everywhere-question")
    page.get_by_role("button", name="Yes, sign out everywhere").click()
    page.wait_for_url(re.compile(r"/login"))
    expect(page.get_by_role("status")).to_contain_text("Signed out everywhere: 2 sessions ended.")
    steps.shot("signed-out-everywhere")
    for browser_tab in (page, other):
        browser_tab.goto(gateway + "/settings")
        assert re.match(re.escape(gateway) + r"/login(\?|$)", browser_tab.url), browser_tab.url
        expect(browser_tab.get_by_role("heading", name="Sign in")).to_be_visible()
        expect(switcher(browser_tab)).to_have_count(0)
        browser_tab.goto(gateway + "/segment/")
        assert browser_tab.url.startswith(gateway + "/login"), browser_tab.url
    steps.shot("console-page-after-sign-out")
    other_steps.shot("console-page-after-sign-out")
    other.context.close()

    # The old address no longer signs in; the new one does, with its remaining codes.
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Incorrect email or password.")
    steps.shot("old-email-refused")


FOCUSED = """() => {
  const e = document.activeElement;
  return {tag: e.tagName.toLowerCase(), id: e.id, product: e.dataset.product || null,
          text: (e.innerText || '').replace(/\\s+/g, ' ').trim(),
          inSwitcher: !!e.closest('nav[aria-label="Product switcher"]'),
          inMain: !!e.closest('main'),
          outline: getComputedStyle(e).outlineStyle};
}"""


def test_signup_asks_for_the_password_once(stack: Stack, browser: Any, browser_page: Steps) -> None:
    """Issue 22, item 4: the browser that signed up confirms the link with one button and is
    signed in; another browser still confirms with the password chosen at sign-up."""
    steps, page, gateway = browser_page, browser_page.page, stack.gateway_url
    email = f"once-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(gateway + "/signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    open_mail_link(steps, gateway, email, "/verify-email")
    expect(page.get_by_role("heading", name="Confirm your email")).to_be_visible()
    expect(page.get_by_label("The password you chose")).to_have_count(0)
    steps.shot("confirm-in-the-signup-browser")
    page.get_by_role("button", name="Confirm email address").click()
    page.wait_for_url(gateway + "/")
    expect(page.get_by_test_id("console-email")).to_have_text(email)
    see(page, "Email address confirmed: you are signed in.")
    steps.shot("signed-in-after-confirming")

    # The same link flow opened on another device: the password, then signing in as usual.
    other_email = f"elsewhere-{uuid.uuid4().hex[:8]}@example.com"
    page.goto(gateway + "/signup")  # signed in: the sign-up page still takes a new address
    page.get_by_label("Email").fill(other_email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Check your inbox")).to_be_visible()
    phone = new_page(browser)
    phone.goto(gateway + "/dev/mailbox")
    mail = phone.locator(f'article[data-recipient="{other_email}"]').first
    mail.get_by_role("link", name="/verify-email").click()
    phone.get_by_label("The password you chose").fill(PASSWORD)
    steps.shot("confirm-in-another-browser", phone)
    phone.get_by_role("button", name="Confirm email address").click()
    expect(phone.get_by_role("heading", name="Email confirmed")).to_be_visible()
    phone.get_by_role("link", name="Sign in").click()
    phone.wait_for_url(re.compile(r"/login\?login_hint="))
    assert phone.get_by_label("Email").input_value() == other_email
    phone.context.close()


def focused(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(FOCUSED)
    return result


def tab_to(page: Any, wanted: Any, limit: int = 20) -> list[dict[str, Any]]:
    """Press Tab until ``wanted(focused element)``; returns every element focused on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(focused(page))
        if wanted(seen[-1]):
            return seen
    raise AssertionError(f"never focused; focus went through {seen}")


#: Accessible names of the switcher links: the product, its state in words, the call to action.
SWITCHER_NAMES = {
    "console": "Console your account",
    "segment": "Segment linked to your account",
    "sendgrid": "SendGrid not linked yet Link your account",
}


def assert_switcher_names(page: Any) -> None:
    """Each switcher link's accessible name (Chromium's accessibility tree)."""
    for product, name in SWITCHER_NAMES.items():
        expect(switcher_link(page, product)).to_have_accessible_name(name)


def test_keyboard_only_login_and_switcher(stack: Stack, browser_page: Steps) -> None:
    steps, page, gateway = browser_page, browser_page.page, stack.gateway_url
    email = f"keys-{uuid.uuid4().hex[:8]}@example.com"
    console_id = people.create_console_user(stack, email, PASSWORD)
    people.create_linked_product_user(stack, "segment", email, console_id)

    # On a page that places no focus, the first Tab reaches the skip link, which shows itself;
    # Enter jumps to the content.
    page.goto(gateway + "/signup")
    page.keyboard.press("Tab")
    assert focused(page)["text"] == "Skip to content"
    skip = page.get_by_role("link", name="Skip to content")
    box = skip.bounding_box()
    assert box is not None and box["x"] >= 0 and box["y"] >= 0  # moved on screen when focused
    steps.shot("skip-link")
    page.keyboard.press("Enter")
    assert focused(page)["tag"] == "main"
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "email"

    # The sign-in page opens with the focus in the email field (issue 22, item 8).
    page.goto(gateway + "/login")
    # The browser applies `autofocus` at the page's first rendering update, which can come
    # after the load event `goto` waits for: wait for it (failing after TIMEOUT_MS).
    page.wait_for_function("document.activeElement && document.activeElement.id === 'email'",
                           timeout=TIMEOUT_MS)
    assert focused(page)["id"] == "email"
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    assert focused(page)["id"] == "password"
    page.keyboard.type(PASSWORD)
    steps.shot("typed")
    page.keyboard.press("Enter")
    page.wait_for_url(gateway + "/")
    expect(page.get_by_test_id("console-email")).to_have_text(email)
    steps.shot("signed-in")

    # From the top of the Console page, Tab reaches the switcher before the page content, in
    # the order shown, each link named with its product and whether it is linked.
    walk = tab_to(page, lambda e: e["product"] == "sendgrid")
    assert [e["text"] for e in walk[:2]] == ["Skip to content", "Unified Login"]
    assert [e["product"] for e in walk if e["inSwitcher"]] == ["console", "segment", "sendgrid"]
    assert not any(e["inMain"] for e in walk), walk
    assert all(e["outline"] != "none" for e in walk[1:]), walk  # focus is visible
    assert_switcher_names(page)
    steps.shot("switcher-focused")

    # Shift+Tab back to Segment (linked) and open it with Enter.
    page.keyboard.press("Shift+Tab")
    assert focused(page)["product"] == "segment"
    page.keyboard.press("Enter")
    page.wait_for_url(gateway + "/segment/")
    steps.shot("segment-by-keyboard")

    # On the product page too: a skip link first, a named product menu, then the switcher with
    # the same names.
    walk = tab_to(page, lambda e: e["product"] == "sendgrid")
    assert walk[0]["text"] == "Skip to content"
    assert [e["product"] for e in walk if e["inSwitcher"]] == ["console", "segment", "sendgrid"]
    expect(
        page.get_by_role("navigation", name="Segment").get_by_role("link", name="Settings")
    ).to_be_visible()
    assert_switcher_names(page)
    steps.shot("product-switcher-focused")
    page.keyboard.press("Enter")  # unlinked SendGrid: the choice page, by keyboard
    page.wait_for_url(re.compile(r"/link/sendgrid"))
    expect(page.get_by_role("heading", name="Open SendGrid")).to_be_visible()
    steps.shot("sendgrid-choice-by-keyboard")
