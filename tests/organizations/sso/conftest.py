"""An organization with a verified domain (example.com, over the test's DNS server) and an
OpenID Connect connection to a real OpenID Provider on loopback (``tests/support/oidc_idp``),
set up through the owner's pages; and ``sso_sign_in``: a browser signing in through it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from gateway.db import new_session
from gateway.models import AuditEvent, LoginSession, User
from tests.organizations.conftest import People, Person
from tests.organizations.test_domains import verified_org
from tests.support.console import PASSWORD, Actions, current_code
from tests.support.dns_zone import Zone
from tests.support.oidc_idp import OpenIdProvider, openid_provider
from tests.support.sso import CLIENT_ID, CLIENT_SECRET, local, sso_sign_in

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "local", "sso_sign_in"]

#: The provider's people: login -> the address it asserts.
ACCOUNTS: dict[str, dict[str, Any]] = {
    "owner": {"email": "owner@example.com", "email_verified": True},
    "ann": {"email": "ann@example.com", "email_verified": True},
    "bob": {"email": "Bob@Example.com", "email_verified": True},
    "unverified": {"email": "eve@example.com", "email_verified": False},
    "outsider": {"email": "zoe@elsewhere.test", "email_verified": True},
    # Another organization's identity provider asserting an address at example.com.
    "mallory": {"email": "ann@example.com", "email_verified": True},
}


@pytest.fixture
def idp(tmp_path: Any) -> Iterator[OpenIdProvider]:
    with openid_provider(ACCOUNTS, tmp_path) as running:
        yield running


def connection_form(org: str, **fields: str) -> dict[str, str]:
    return {f"new-oidc-{name}": value for name, value in fields.items()}


def add_oidc_connection(owner: Person, org: str, issuer: str, client_id: str = CLIENT_ID,
                        name: str = "Test IdP") -> TestResponse:
    return owner.post(f"/organizations/{org}/sso/connections", kind="oidc",
                      **{"new-oidc-csrf_token": owner.token()},
                      **connection_form(org, name=name, issuer=issuer, client_id=client_id,
                                        client_secret=CLIENT_SECRET))


def connection_ids(owner: Person, org: str) -> list[str]:
    page = owner.client.get(f"/organizations/{org}/sso").text
    return re.findall(r'data-connection="([0-9a-f]{32})"', page)


def redirect_uri(owner: Person, org: str, connection: str) -> str:
    page = owner.client.get(f"/organizations/{org}/sso").text
    section = page.split(f'data-connection="{connection}"')[1]
    match = re.search(r'data-testid="redirect-uri">([^<]+)<', section)
    assert match, section
    return match.group(1)


@dataclass
class SsoOrg:
    app: Flask
    owner: Person
    owner_totp: str
    org: str
    connection: str
    idp: OpenIdProvider

    def register(self, client_id: str = CLIENT_ID, **overrides: Any) -> None:
        self.idp.register(client_id, CLIENT_SECRET,
                          redirect_uri(self.owner, self.org, self.connection), **overrides)

    def set_policy(self, enforced: bool, lifetime: str = "") -> TestResponse:
        data = {"csrf_token": self.owner.token(), "session_max_age": lifetime}
        if enforced:
            data["enforced"] = "y"
        return self.owner.client.post(f"/organizations/{self.org}/sso/policy", data=data)

    def audit(self) -> str:
        return self.owner.client.get(f"/organizations/{self.org}/audit").text


def owner_with_totp(app: Flask, email: str = "owner@example.com") -> tuple[Person, str]:
    actions = Actions(app, app.test_client())
    user = actions.create_user(email, totp=True)
    assert user.totp_secret
    assert actions.sign_in(email).location.endswith("/login/2fa")
    assert actions.enter_code(current_code(user.totp_secret)).status_code == 302
    return Person(app, actions, email, user.id), user.totp_secret


@pytest.fixture
def sso_org(app: Flask, people: People, zone: Zone, idp: OpenIdProvider) -> SsoOrg:
    """Acme: example.com verified, a connection to the provider (registered there as the
    gateway's client), nothing enforced yet. Its owner has 2FA."""
    owner, secret = owner_with_totp(app)
    org = verified_org(people, zone, owner)
    answer = add_oidc_connection(owner, org, idp.issuer)
    assert answer.status_code == 302, answer.text
    [connection] = connection_ids(owner, org)
    made = SsoOrg(app, owner, secret, org, connection, idp)
    made.register()
    return made


def password_sign_in(person: Actions, email: str, password: str = PASSWORD) -> TestResponse:
    """The password form with ``break_glass=1`` (no routing to the identity provider)."""
    return person.post("/login", form_path="/login?break_glass=1", break_glass="1",
                       email=email, password=password)


def password_person(app: Flask, email: str) -> Person:
    """Someone with a password account at the organization's domain, signed in with it
    (break-glass form: the address alone would go to the identity provider)."""
    actions = Actions(app, app.test_client())
    user = actions.create_user(email)
    assert password_sign_in(actions, email).status_code == 302
    return Person(app, actions, email, user.id)


def next_code(secret: str) -> str:
    """The authenticator's code of the next time step (the current one may be spent: codes
    are single-use, and RFC 6238's one step of tolerance accepts the next)."""
    return pyotp.TOTP(secret).at(int(time.time()) + 30)


def signed_in_page(client: FlaskClient) -> str | None:
    """The settings page of the account this browser is signed in as (None: signed out)."""
    page = client.get("/settings")
    return page.text if page.status_code == 200 else None


def account(app: Flask, email: str) -> User | None:
    with app.app_context(), new_session() as db:
        return db.scalars(select(User).where(User.email == email)).one_or_none()


def sessions(app: Flask, email: str) -> list[LoginSession]:
    with app.app_context(), new_session() as db:
        query = select(LoginSession).join(User).where(User.email == email,
                                                      LoginSession.revoked_at.is_(None))
        return list(db.scalars(query))


def events(app: Flask, name: str) -> list[AuditEvent]:
    with app.app_context(), new_session() as db:
        return list(db.scalars(select(AuditEvent).where(AuditEvent.event == name)))
