"""Issue 25's "done when", as one journey in a real headless Chromium over real servers on
loopback: the gateway, its answer server, Segment and SendGrid as processes
(``running_stack``); a DNS server holding the organization's zone
(``tests/support/dns_zone.py``, the gateway's ``DNS_RESOLVER``); a real OpenID Provider (npm
``oidc-provider``, ``tests/support/oidc_idp.py``); a real SAML IdP (pysaml2's IdP side,
``tests/support/saml_idp.py``, on ``localhost`` so its answer is a cross-site POST).

The owner (password and authenticator code: enforcement needs the owner's own second factor)
creates Acme, verifies example.com by its TXT record, connects both identity providers and
requires single sign-on, all on the organization's pages; the IdP's provisioning client
creates Mia with a SCIM POST and her organization's token. Mia's password (chosen through
the link she was mailed) is refused with the enforcement page; she types her address on
``/login``, chooses the OpenID Provider, signs in there, and uses Segment and SendGrid from
the Product Switcher (creating a user in each, then switching between them; Segment records
the sign-in as single sign-on).

Decision: Mia signs in through **OpenID Connect**, because the OpenID Provider has a login
page of its own that the browser fills in (the SAML IdP answers at once, without a page):
her sign-in is a person's, at the IdP. The SAML connection is proven in a second browser
profile: the same choice page, the IdP reached with the gateway's AuthnRequest, and its signed
answer signing her in. Screenshots: ``test-artifacts/screenshots/<test>/``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import Steps, is_linked, new_page, sign_in, switcher_link
from tests.support import people
from tests.support.dns_zone import Zone, dns_zone
from tests.support.oidc_idp import OpenIdProvider, openid_provider
from tests.support.person import browser as http_client
from tests.support.saml_idp import SamlIdp, saml_idp
from tests.support.sso import CLIENT_ID, CLIENT_SECRET, DOMAIN
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

OWNER = "owner@corp.test"
PASSWORD = "an owner's long passphrase"
MEMBER = f"mia@{DOMAIN}"
MEMBER_PASSWORD = "mia's own long passphrase"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def zone() -> Iterator[Zone]:
    with dns_zone() as served:
        yield served


@pytest.fixture
def oidc(tmp_path: Path) -> Iterator[OpenIdProvider]:
    with openid_provider({"mia": {"email": MEMBER, "email_verified": True}}, tmp_path) as op:
        yield op


@pytest.fixture
def saml(tmp_path: Path) -> Iterator[SamlIdp]:
    with saml_idp(tmp_path, host="localhost") as idp:
        idp.person = MEMBER
        yield idp


@pytest.fixture
def sso_stack(tmp_path: Path, zone: Zone) -> Iterator[Stack]:
    workdir = tmp_path / "stack"
    workdir.mkdir()
    with running_stack(str(workdir), DNS_RESOLVER=zone.address) as stack:
        yield stack


def connection_card(page: Any, name: str) -> Any:
    return page.locator("[data-connection]").filter(has_text=name)


def height(field: Any) -> float:
    box = field.bounding_box()
    assert box is not None
    return float(box["height"])


def add_connection(steps: Steps, kind: str, name: str, **fields: str) -> Any:
    """Fill the organization's "Add a <kind> connection" form; the new connection's card."""
    page = steps.page
    form = page.get_by_role("form", name=f"New {kind} connection")
    form.get_by_label("Name", exact=True).fill(name)
    for label, value in fields.items():
        form.get_by_label(label, exact=True).fill(value)
    steps.shot(f"add-{kind.split()[0].lower()}")
    form.get_by_role("button", name=f"Add {kind} connection").click()
    expect(page.get_by_role("status").or_(page.get_by_role("alert")).first).to_contain_text(
        f"Connection {name} added.")
    return connection_card(page, name)


def set_up_acme(steps: Steps, stack: Stack, zone: Zone, oidc: OpenIdProvider,
                saml: SamlIdp) -> str:
    """The owner's part, in the browser: the organization's SCIM token."""
    page, gateway = steps.page, stack.gateway_url
    page.goto(gateway + "/organizations/")
    page.get_by_label("Organization name").fill("Acme")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(re.compile(r"/organizations/[0-9a-f]{32}$"))
    organization = page.url

    page.get_by_label("Domain", exact=True).fill(DOMAIN)
    page.get_by_role("button", name="Add domain").click()
    zone.txt[f"_unified-login-challenge.{DOMAIN}"] = [
        page.get_by_test_id("txt-value").inner_text()]
    steps.shot("txt-record-published")
    page.get_by_role("button", name=f"Verify {DOMAIN}").click()
    expect(page.locator(f'[data-domain="{DOMAIN}"] .badge.on')).to_have_text("verified")
    steps.shot("domain-verified")

    page.get_by_role("link", name="single sign-on settings").click()
    oidc_form = page.get_by_role("form", name="New OpenID Connect connection")
    # The URL field is drawn as a field like the others (it was a bare 2-pixel box).
    assert (height(oidc_form.get_by_label("Issuer URL"))
            == height(oidc_form.get_by_label("Client ID")))
    card = add_connection(steps, "OpenID Connect", "Acme OIDC", **{
        "Issuer URL": oidc.issuer, "Client ID": CLIENT_ID, "Client secret": CLIENT_SECRET})
    oidc.register(CLIENT_ID, CLIENT_SECRET, card.get_by_test_id("redirect-uri").inner_text())
    card = add_connection(steps, "SAML 2.0", "Acme SAML", **{
        "Identity provider metadata URL": saml.metadata_url})
    sp_metadata = http_client().get(card.get_by_test_id("saml-sp-metadata").inner_text(),
                                    timeout=15)
    assert sp_metadata.status_code == 200
    saml.trust(sp_metadata.content)  # the IdP's administrator registers the gateway

    page.get_by_label("Require single sign-on for managed accounts").check()
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_test_id("sso-enforced")).to_have_text(
        "Single sign-on is required for managed accounts.")
    steps.shot("sso-connected-and-required")

    page.goto(organization + "/scim")
    page.get_by_label("Name", exact=True).fill("Acme IdP provisioning")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_test_id("scim-token-value").inner_text()
    steps.shot("scim-token")
    return token


def provision(stack: Stack, token: str, email: str) -> None:
    """The IdP's SCIM client creates the member (a real POST, the organization's token)."""
    answer = http_client().post(
        stack.gateway_url + "/scim/v2/Users", json={"schemas": [USER], "userName": email},
        headers={"Authorization": f"Bearer {token}",
                 "Content-Type": "application/scim+json"}, timeout=15)
    assert answer.status_code == 201, answer.text
    assert answer.json()["userName"] == email and answer.json()["active"] is True


def choose_connection(steps: Steps, page: Any, gateway: str, name: str) -> None:
    """Identifier-first: the address alone on /login, then the organization's choice page."""
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(MEMBER)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Choose how to sign in")).to_be_visible()
    steps.shot("sso-choice", page)
    page.get_by_role("link", name=f"Sign in with {name}").click()


def switch_to(steps: Steps, page: Any, gateway: str, product: str, title: str) -> None:
    """From the Product Switcher to ``product``: created there first when not linked yet."""
    switcher_link(page, product).click()
    if not page.url.startswith(f"{gateway}/{product}/"):
        page.wait_for_url(re.compile(rf"/link/{product}\?next="))
        steps.shot(f"{product}-choice", page)
        page.get_by_role("button", name=f"Create {title} user").click()
    page.wait_for_url(f"{gateway}/{product}/")
    steps.shot(f"inside-{product}", page)
    assert MEMBER in page.content()
    assert is_linked(page, product)


def test_an_organization_with_sso_provisions_a_member_who_uses_every_product(
    sso_stack: Stack, zone: Zone, oidc: OpenIdProvider, saml: SamlIdp,
    browser: Any, browser_page: Steps,
) -> None:
    steps, gateway = browser_page, sso_stack.gateway_url
    _, totp_secret, _ = people.create_console_user_with_2fa(sso_stack, OWNER, PASSWORD)
    sign_in(steps, gateway, OWNER, PASSWORD, totp_secret)
    token = set_up_acme(steps, sso_stack, zone, oidc, saml)
    provision(sso_stack, token, MEMBER)

    # Mia chooses a password through the link she was mailed: it signs her in nowhere.
    mia = new_page(browser)
    mia.goto(people.mailed_link(sso_stack, MEMBER, "/forgot-password"))
    mia.get_by_label("Email").fill(MEMBER)
    mia.get_by_role("button", name="Send reset link").click()
    expect(mia.get_by_role("heading", name="Check your inbox")).to_be_visible()
    mia.goto(people.mailed_link(sso_stack, MEMBER, "/reset-password"))
    mia.get_by_label("New password").fill(MEMBER_PASSWORD)
    mia.get_by_role("button", name="Set new password").click()
    expect(mia.get_by_test_id("sso-required")).to_be_visible()
    mia.goto(gateway + "/login?break_glass=1")
    mia.get_by_label("Email").fill(MEMBER)
    mia.get_by_label("Password", exact=True).fill(MEMBER_PASSWORD)
    mia.get_by_role("button", name="Sign in").click()
    mia.wait_for_url(re.compile(re.escape(gateway) + r"/sso/required"))
    expect(mia.get_by_test_id("sso-required")).to_be_visible()
    steps.shot("password-refused", mia)
    mia.goto(gateway + "/settings")
    assert mia.url.startswith(gateway + "/login")  # no session

    # Through the OpenID Provider's own login page.
    choose_connection(steps, mia, gateway, "Acme OIDC")
    mia.wait_for_url(re.compile(re.escape(oidc.issuer) + "/interaction/"))
    steps.shot("openid-provider", mia)
    mia.get_by_label("Login").fill("mia")
    mia.get_by_role("button", name="Sign in at the identity provider").click()
    mia.wait_for_url(gateway + "/")
    steps.shot("console-home-as-member", mia)
    assert MEMBER in mia.content()
    assert not is_linked(mia, "segment") and not is_linked(mia, "sendgrid")

    switch_to(steps, mia, gateway, "segment", "Segment")
    switch_to(steps, mia, gateway, "sendgrid", "SendGrid")
    switch_to(steps, mia, gateway, "segment", "Segment")  # linked both: straight in
    assert is_linked(mia, "sendgrid")
    # Segment's own session history says how she signed in (the assertion's amr).
    mia.goto(gateway + "/segment/settings/sessions")
    expect(mia.locator("body")).to_contain_text("unified login: single sign-on")
    steps.shot("segment-sessions", mia)

    # The SAML connection, from another browser profile: the IdP gets the gateway's
    # AuthnRequest and its signed answer signs Mia in.
    other = new_page(browser)
    choose_connection(steps, other, gateway, "Acme SAML")
    other.wait_for_url(gateway + "/")
    steps.shot("console-home-through-saml", other)
    assert len(saml.requests) == 1
    assert MEMBER in other.content()
