"""Passkeys in a real headless Chromium with a virtual authenticator (issue 15).

One stack whose public URL is ``http://localhost:<port>`` (an RP id must be a domain; Chromium
treats localhost as a secure context) and one page whose virtual authenticator (CDP
``WebAuthn.addVirtualAuthenticator``: CTAP2, internal transport, resident keys, user
verification) holds the person's passkey across the steps, in order: register (the recovery
codes come with it: issue 22), sign in with password + passkey, passwordless sign-in reaching
Segment and SendGrid (Segment's session history says "passkey"), autofill (conditional mediation
on the email field), re-authenticate, a browser without the passkey getting in with a recovery
code (the support route shown), remove.
Screenshots per step under ``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select, update

from gateway import db as gateway_db
from tests.e2e.browser import TIMEOUT_MS, Steps, chromium, new_page
from tests.e2e.conftest import chromium_or_skip
from tests.support import people
from tests.support.stack import SUPPORT_EMAIL, Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "a passkey journey passphrase"


def _on_localhost(stack: Stack) -> None:
    public = stack.gateway_url.replace("127.0.0.1", "localhost")
    stack.gateway_url = public
    stack.env["PUBLIC_URL"] = public
    stack.env["GATEWAY_PUBLIC_URL"] = public


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(str(tmp_path_factory.mktemp("passkeys")), prepare=_on_localhost) as up:
        yield up


@pytest.fixture(scope="module")
def person(stack: Stack) -> dict[str, str]:
    """The person, and (once the first passkey is added) their recovery codes."""
    email = f"passkey-{uuid.uuid4().hex[:8]}@example.com"
    console_id = people.create_console_user(stack, email, PASSWORD)
    for product in ("segment", "sendgrid"):
        people.create_linked_product_user(stack, product, email, console_id)
    return {"email": email, "id": console_id}


@pytest.fixture(scope="module")
def tab() -> Iterator[Any]:
    """One page for the module, with a virtual platform authenticator attached over CDP."""
    with chromium(chromium_or_skip()) as browser:
        page = new_page(browser)
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        added = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
            "hasUserVerification": True, "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }})
        page.authenticator = (cdp, added["authenticatorId"])
        yield page


def credentials(page: Any) -> list[dict[str, Any]]:
    cdp, authenticator_id = page.authenticator
    return list(cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator_id})
                ["credentials"])


def presence(page: Any, on: bool) -> None:
    """Whether the virtual authenticator answers at once (as a person touching it would).
    Off while a page should wait: the login page's autofill request would otherwise be
    answered the moment the page loads."""
    cdp, authenticator_id = page.authenticator
    cdp.send("WebAuthn.setAutomaticPresenceSimulation",
             {"authenticatorId": authenticator_id, "enabled": on})


def steps_for(page: Any, request: pytest.FixtureRequest) -> Steps:
    return Steps(page, request.node.name)


def sign_out(page: Any, gateway: str) -> None:
    """Sign out and land on the login page, its autofill request left waiting."""
    presence(page, False)
    page.goto(gateway + "/logout")
    page.get_by_role("button", name=re.compile("Sign out", re.I)).first.click()
    page.wait_for_url(re.compile(re.escape(gateway + "/login")))


def age_session(stack: Stack, email: str) -> None:
    """Time passes: the last proof of identity is older than the re-authentication window."""
    from gateway.db import new_session
    from gateway.models import LoginSession, User, utcnow

    app = stack.app("gateway")
    with app.app_context(), new_session() as session:
        user_id = session.scalars(select(User.id).where(User.email == email)).one()
        session.execute(update(LoginSession).where(LoginSession.user_id == user_id)
                        .values(authenticated_at=utcnow() - timedelta(minutes=30)))
        session.commit()
    gateway_db.engine(app).dispose()


def latest_methods(stack: Stack, email: str) -> str:
    """auth_methods of the person's newest session (what the assertion's amr carries)."""
    from gateway.db import new_session
    from gateway.models import LoginSession, User

    app = stack.app("gateway")
    with app.app_context(), new_session() as session:
        query = (select(LoginSession.auth_methods).join(User)
                 .where(User.email == email).order_by(LoginSession.created_at.desc()))
        methods = session.scalars(query).first()
    gateway_db.engine(app).dispose()
    return str(methods)


def test_passkey_1_register(stack: Stack, tab: Any, person: dict[str, str],
                    request: pytest.FixtureRequest) -> None:
    steps, gateway = steps_for(tab, request), stack.gateway_url
    tab.goto(gateway + "/login")
    tab.get_by_label("Email").fill(person["email"])
    tab.get_by_label("Password").fill(PASSWORD)
    steps.shot("password-sign-in")
    tab.get_by_role("button", name="Sign in", exact=True).click()
    tab.wait_for_url(gateway + "/")
    tab.goto(gateway + "/settings/passkeys")
    steps.shot("no-passkeys-yet")
    tab.get_by_label("Name").fill("This laptop")
    tab.get_by_role("button", name="Add a passkey").click()
    # It turned 2FA on: the recovery codes come in the same flow (issue 22).
    expect(tab.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    codes = tab.get_by_test_id("recovery-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    person["codes"] = " ".join(codes)
    steps.shot("recovery-codes-with-the-first-passkey")
    tab.get_by_role("button", name="I saved them").click()
    tab.wait_for_url(gateway + "/settings")
    expect(tab.get_by_test_id("2fa-status")).to_have_text("On: passkey (1)")
    steps.shot("settings-say-2fa-is-on")
    tab.goto(gateway + "/settings/passkeys")
    expect(tab.locator("[data-passkey]")).to_have_count(1)
    steps.shot("passkey-added")
    stored = credentials(tab)
    assert len(stored) == 1 and stored[0]["isResidentCredential"]


def test_passkey_2_password_and_passkey(stack: Stack, tab: Any, person: dict[str, str],
                                request: pytest.FixtureRequest) -> None:
    steps, gateway = steps_for(tab, request), stack.gateway_url
    sign_out(tab, gateway)
    tab.get_by_label("Email").fill(person["email"])
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in", exact=True).click()
    tab.wait_for_url(gateway + "/login/2fa")
    steps.shot("second-step-offers-passkey")
    presence(tab, True)
    tab.get_by_role("button", name="Use a passkey").click()
    tab.wait_for_url(gateway + "/")
    steps.shot("signed-in-with-password-and-passkey")
    assert latest_methods(stack, person["email"]) == "pwd,hwk,user,mfa"


def test_passkey_3_passwordless_reaches_both_products(
    stack: Stack, tab: Any, person: dict[str, str], request: pytest.FixtureRequest
) -> None:
    steps, gateway = steps_for(tab, request), stack.gateway_url
    sign_out(tab, gateway)
    steps.shot("login-page")
    presence(tab, True)
    tab.wait_for_timeout(500)
    assert tab.url.startswith(gateway + "/login")  # the waiting autofill request stays waiting
    tab.get_by_role("button", name="Sign in with a passkey").click()
    tab.wait_for_url(gateway + "/")
    steps.shot("signed-in-with-passkey-alone")
    assert latest_methods(stack, person["email"]) == "hwk,user,mfa"
    tab.goto(gateway + "/segment/settings/sessions")
    expect(tab.get_by_text("unified login: passkey", exact=True).first).to_be_visible()
    steps.shot("segment-session-history")
    tab.goto(gateway + "/sendgrid/")
    expect(tab.get_by_text(person["email"]).first).to_be_visible()
    steps.shot("sendgrid")


def test_passkey_4_autofill(stack: Stack, tab: Any, person: dict[str, str],
                    request: pytest.FixtureRequest) -> None:
    """Conditional mediation: the email field offers the passkey; choosing it signs in."""
    steps, gateway = steps_for(tab, request), stack.gateway_url
    sign_out(tab, gateway)
    field = tab.get_by_label("Email")
    expect(field).to_have_attribute("autocomplete", "username webauthn")
    steps.shot("login-page-autofill-waiting")
    # The person picks the passkey the email field offers: the virtual authenticator answers
    # the page's pending conditional request (no button pressed, nothing typed).
    presence(tab, True)
    tab.reload()
    tab.wait_for_url(gateway + "/")
    steps.shot("signed-in-from-autofill")
    assert latest_methods(stack, person["email"]) == "hwk,user,mfa"


def test_passkey_5_reauthenticate(stack: Stack, tab: Any, person: dict[str, str],
                          request: pytest.FixtureRequest) -> None:
    steps, gateway = steps_for(tab, request), stack.gateway_url
    age_session(stack, person["email"])
    tab.goto(gateway + "/settings/passkeys")
    tab.wait_for_url(re.compile(re.escape(gateway + "/settings/reauthenticate")))
    steps.shot("confirm-it-is-you")
    tab.get_by_role("button", name="Confirm with a passkey").click()
    tab.wait_for_url(gateway + "/settings/passkeys")
    steps.shot("back-on-passkeys")


def test_passkey_6_lost_passkey_another_browser(stack: Stack, tab: Any, person: dict[str, str],
                                         request: pytest.FixtureRequest) -> None:
    """A browser without the passkey: the 2FA step's way out, a recovery code, and the
    support route for whoever has no code either."""
    gateway = stack.gateway_url
    page = tab.context.browser.new_context().new_page()  # no authenticator in this one
    page.set_default_timeout(TIMEOUT_MS)
    steps = Steps(page, request.node.name)
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(person["email"])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(gateway + "/login/2fa")
    steps.shot("second-step-without-the-passkey")
    page.get_by_role("link", name=re.compile("^Lost your passkey")).click()
    page.wait_for_url(gateway + "/login/2fa/recovery")
    expect(page.get_by_test_id("support-route")).to_have_attribute(
        "href", "mailto:" + SUPPORT_EMAIL)
    page.get_by_label("Recovery code").fill(person["codes"].split()[0])
    steps.shot("recovery-code-and-support")
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(gateway + "/settings/2fa/recovery-code-used")
    expect(page.get_by_test_id("recovery-left")).to_have_text("9")
    expect(page.get_by_role("link", name="Remove it and add a new one")).to_be_visible()
    steps.shot("signed-in-with-a-recovery-code")
    assert latest_methods(stack, person["email"]) == "pwd,recovery"
    page.context.close()


def test_passkey_7_remove(stack: Stack, tab: Any, person: dict[str, str],
                  request: pytest.FixtureRequest) -> None:
    steps, gateway = steps_for(tab, request), stack.gateway_url
    tab.goto(gateway + "/settings/passkeys")
    tab.get_by_role("button", name=re.compile("Remove This laptop")).click()
    expect(tab.get_by_text("Two-factor authentication is off", exact=False).first).to_be_visible()
    expect(tab.locator("[data-passkey]")).to_have_count(0)
    steps.shot("passkey-removed")
    sign_out(tab, gateway)
    tab.get_by_label("Email").fill(person["email"])
    tab.get_by_label("Password").fill(PASSWORD)
    tab.get_by_role("button", name="Sign in", exact=True).click()
    tab.wait_for_url(gateway + "/")  # no second step any more
    steps.shot("password-alone-again")
