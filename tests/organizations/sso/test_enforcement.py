"""Enforced single sign-on: an owner turns it on (with a connection, and 2FA of their own);
the organization's managed accounts are then refused password and passkey sign-in with a page
that points to single sign-on, while single sign-on keeps working; owners keep a break-glass
password sign-in that needs a second factor there and then. And the organization's session
lifetime for single sign-on sessions."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from gateway.db import new_session
from gateway.models import LoginSession, utcnow
from tests.organizations.conftest import People
from tests.organizations.sso.conftest import (
    SsoOrg,
    account,
    next_code,
    password_person,
    password_sign_in,
    sessions,
    signed_in_page,
    sso_sign_in,
)
from tests.support.authenticator import SoftAuthenticator
from tests.support.console import make_gateway_app
from tests.support.dns_zone import Zone
from tests.support.passkey_flows import ORIGIN, passwordless, register


@pytest.fixture
def app(database_url: str, zone: Zone) -> Flask:
    """A gateway with a domain name for passkeys (their relying party cannot be an IP)."""
    return make_gateway_app(database_url, DNS_RESOLVER=zone.address, PUBLIC_URL=ORIGIN)


def enforced(sso_org: SsoOrg) -> None:
    answer = sso_org.set_policy(enforced=True)
    assert answer.status_code == 302
    assert "required for managed accounts" in sso_org.owner.client.get(answer.location).text


def test_enforcement_needs_a_connection_on_and_an_owner_with_a_second_factor(
    app: Flask, sso_org: SsoOrg, people: People
) -> None:
    co_owner = people("co@corp.test")
    people.join(sso_org.org, sso_org.owner, co_owner, "owner")
    refused = co_owner.client.post(f"/organizations/{sso_org.org}/sso/policy",
                                   data={"csrf_token": co_owner.token(), "enforced": "y",
                                         "session_max_age": ""})
    page = co_owner.client.get(refused.location).text
    assert "Turn on two-factor authentication for your own account first" in page
    assert "not required for managed accounts" in page
    enforced(sso_org)
    # The last connection cannot go while enforcement holds.
    removed = sso_org.owner.post(f"/organizations/{sso_org.org}/sso/connections/"
                                 f"{sso_org.connection}/remove")
    assert "turn enforcement off first" in sso_org.owner.client.get(removed.location).text
    assert "Test IdP" in sso_org.owner.client.get(f"/organizations/{sso_org.org}/sso").text


def test_a_member_cannot_change_the_rules(app: Flask, sso_org: SsoOrg, people: People) -> None:
    member = people("member@corp.test")
    people.join(sso_org.org, sso_org.owner, member)
    assert member.client.get(f"/organizations/{sso_org.org}/sso").status_code == 403
    answer = member.client.post(f"/organizations/{sso_org.org}/sso/policy",
                                data={"csrf_token": member.token(), "enforced": "y"})
    assert answer.status_code == 403


def test_a_managed_member_is_refused_the_password_and_sent_to_single_sign_on(
    app: Flask, sso_org: SsoOrg, people: People
) -> None:
    bob = password_person(app, "bob@example.com")
    assert sso_sign_in(app.test_client(), sso_org.idp, "bob@example.com", "bob").status_code == 302
    enforced(sso_org)
    before = len(sessions(app, "bob@example.com"))
    browser = people("someone@corp.test").actions  # a fresh browser, signed in as nobody else
    browser.sign_out()
    typed = password_sign_in(browser, "bob@example.com")
    assert typed.status_code == 302 and typed.location.startswith("/sso/required")
    page = browser.client.get(typed.location)
    assert page.status_code == 403 and "requires single sign-on" in page.text
    assert signed_in_page(browser.client) is None
    assert len(sessions(app, "bob@example.com")) == before
    # Single sign-on still signs bob in.
    assert sso_sign_in(browser.client, sso_org.idp, "bob@example.com", "bob").status_code == 302
    assert "bob@example.com" in (signed_in_page(browser.client) or "")
    # Turned off again: the password works again.
    assert sso_org.set_policy(enforced=False).status_code == 302
    bob.actions.sign_out()
    assert password_sign_in(bob.actions, "bob@example.com").status_code == 302


def test_a_managed_members_passkey_is_refused(
    app: Flask, sso_org: SsoOrg, people: People
) -> None:
    bob = password_person(app, "bob@example.com")
    phone = SoftAuthenticator(ORIGIN)
    register(bob.actions, phone)
    assert sso_sign_in(app.test_client(), sso_org.idp, "bob@example.com", "bob").status_code == 302
    enforced(sso_org)
    browser = app.test_client()
    answer = passwordless(browser, phone)
    assert answer.status_code == 302 and answer.location.startswith("/sso/required")
    assert signed_in_page(browser) is None


def test_an_owner_breaks_glass_with_the_password_and_a_second_factor(
    app: Flask, sso_org: SsoOrg, people: People
) -> None:
    # The owner signed in through the identity provider once: their account is managed.
    assert sso_sign_in(app.test_client(), sso_org.idp, "owner@example.com", "owner"
                       ).status_code == 302
    owner = account(app, "owner@example.com")
    assert owner is not None and owner.managed_by_id == sso_org.org
    enforced(sso_org)
    browser = people("visitor@corp.test").actions
    browser.sign_out()
    # The address alone goes to the identity provider; the owner's way around is break-glass.
    typed = password_sign_in(browser, "owner@example.com")
    assert typed.status_code == 302 and typed.location.endswith("/login/2fa")
    done = browser.enter_code(next_code(sso_org.owner_totp))
    assert done.status_code == 302
    assert "owner@example.com" in (signed_in_page(browser.client) or "")
    assert any(s.auth_methods == "pwd,otp" for s in sessions(app, "owner@example.com"))


def test_break_glass_is_for_owners_only(app: Flask, sso_org: SsoOrg, people: People) -> None:
    admin = password_person(app, "admin@example.com")
    people.join(sso_org.org, sso_org.owner, admin, "admin")
    # Brought under by the owner's confirmation (not by a single sign-on):
    confirm = sso_org.owner.post(f"/organizations/{sso_org.org}/managed",
                                 account="admin@example.com", confirm="y")
    assert confirm.status_code == 302
    enforced(sso_org)
    admin.actions.sign_out()
    typed = password_sign_in(admin.actions, "admin@example.com")
    assert typed.location.startswith("/sso/required")


def test_single_sign_on_sessions_last_as_long_as_the_organization_says(
    app: Flask, sso_org: SsoOrg
) -> None:
    assert sso_org.set_policy(enforced=False, lifetime="3600").status_code == 302
    browser = app.test_client()
    assert sso_sign_in(browser, sso_org.idp, "ann@example.com", "ann").status_code == 302
    [session] = sessions(app, "ann@example.com")
    assert session.max_age == 3600
    assert signed_in_page(browser) is not None
    with app.app_context(), new_session() as db:
        db.execute(update(LoginSession).where(LoginSession.id == session.id).values(
            created_at=utcnow() - timedelta(minutes=61), last_seen_at=utcnow()))
        db.commit()
    assert signed_in_page(browser) is None
    assert sso_org.set_policy(enforced=False, lifetime="5").status_code == 400
