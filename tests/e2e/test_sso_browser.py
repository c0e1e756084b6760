"""Single sign-on in a real headless Chromium (issue 25): a person types their work address on
the gateway's sign-in page, signs in at their organization's OpenID Provider (a real one on
loopback), comes back signed in to the Console as a new member, and opens Segment from the
Product Switcher. The stack runs as processes; screenshots under
``test-artifacts/screenshots/<test>/``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from gateway import db as gateway_db
from tests.e2e.browser import Steps, switcher_link
from tests.support.dns_zone import Zone, dns_zone
from tests.support.oidc_idp import OpenIdProvider, openid_provider
from tests.support.sso import set_up_organization
from tests.support.stack import Stack, running_stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def zone() -> Iterator[Zone]:
    with dns_zone() as served:
        yield served


@pytest.fixture
def idp(tmp_path: Any) -> Iterator[OpenIdProvider]:
    accounts = {"ann": {"email": "ann@example.com", "email_verified": True}}
    with openid_provider(accounts, tmp_path) as running:
        yield running


@pytest.fixture
def sso_stack(tmp_path: Any, zone: Zone, idp: OpenIdProvider) -> Iterator[Stack]:
    workdir = tmp_path / "stack"
    workdir.mkdir()
    with running_stack(str(workdir), DNS_RESOLVER=zone.address) as stack:
        gateway = stack.app("gateway")
        set_up_organization(gateway, zone, idp)
        gateway_db.engine(gateway).dispose()
        yield stack


def test_a_new_member_signs_in_through_the_idp_and_opens_segment(
    sso_stack: Stack, idp: OpenIdProvider, browser_page: Steps
) -> None:
    steps, page, gateway = browser_page, browser_page.page, sso_stack.gateway_url
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill("ann@example.com")
    steps.shot("address-typed")
    page.get_by_role("button", name="Sign in").click()

    page.wait_for_url(re.compile(re.escape(idp.issuer) + "/interaction/"))
    steps.shot("identity-provider")
    page.get_by_label("Login").fill("ann")
    page.get_by_role("button", name="Sign in at the identity provider").click()

    page.wait_for_url(gateway + "/")
    steps.shot("console-home")
    assert "ann@example.com" in page.content()
    assert "not linked" in switcher_link(page, "segment").inner_text()

    switcher_link(page, "segment").click()
    page.wait_for_url(re.compile(r"/link/segment\?next="))
    steps.shot("choice-page")
    page.get_by_role("button", name="Create Segment user").click()
    page.wait_for_url(gateway + "/segment/")
    steps.shot("inside-segment")
    assert "ann@example.com" in page.content()
    assert "not" not in switcher_link(page, "segment").inner_text()
