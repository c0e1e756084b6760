"""Single sign-on set up as an owner would, for suites outside ``tests/organizations``: an
organization whose owner (with 2FA) verified example.com over the test's DNS server and
connected a real OpenID Provider (``tests/support/oidc_idp``); and ``sso_sign_in``, a
browser signing in through it over the Flask test client."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.support.console import Actions, csrf_token, current_code
from tests.support.dns_zone import Zone
from tests.support.oidc_idp import OpenIdProvider

CLIENT_ID = "unified-login-gateway"
CLIENT_SECRET = "a-client-secret-the-provider-issued-0123456789"
DOMAIN = "example.com"


@dataclass
class SsoSetup:
    owner: Actions
    owner_totp: str
    org: str
    connection: str


def set_up_organization(app: Flask, zone: Zone, idp: OpenIdProvider,
                        owner_email: str = "owner@corp.test") -> SsoSetup:
    """Acme, through its owner's pages: example.com verified, an OIDC connection to ``idp``
    (registered there as the gateway's client with the redirect URI the page shows)."""
    owner = Actions(app, app.test_client())
    user = owner.create_user(owner_email, totp=True)
    assert user.totp_secret
    assert owner.sign_in(owner_email).status_code == 302
    assert owner.enter_code(current_code(user.totp_secret)).status_code == 302
    created = owner.post("/organizations/", name="Acme")
    org = created.location.rsplit("/", 1)[1]
    page = f"/organizations/{org}"
    assert owner.post(f"{page}/domains", form_path=page, domain=DOMAIN).status_code == 302
    shown = owner.client.get(page).text
    zone.txt[f"_unified-login-challenge.{DOMAIN}"] = [
        re.findall(r'data-testid="txt-value">([^<]+)<', shown)[0]]
    domain_id = re.findall(r"/domains/([0-9a-f]{32})/verify", shown)[0]
    assert owner.post(f"{page}/domains/{domain_id}/verify", form_path=page).status_code == 302
    token = csrf_token(owner.client, page + "/sso")
    added = owner.client.post(f"{page}/sso/connections", data={
        "kind": "oidc", "new-oidc-csrf_token": token, "new-oidc-name": "Acme IdP",
        "new-oidc-issuer": idp.issuer, "new-oidc-client_id": CLIENT_ID,
        "new-oidc-client_secret": CLIENT_SECRET})
    assert added.status_code == 302, added.text
    sso_page = owner.client.get(page + "/sso").text
    connection = re.findall(r'data-connection="([0-9a-f]{32})"', sso_page)[0]
    redirect_uri = re.findall(r'data-testid="redirect-uri">([^<]+)<', sso_page)[0]
    idp.register(CLIENT_ID, CLIENT_SECRET, redirect_uri)
    return SsoSetup(owner, user.totp_secret, org, connection)


def local(url: str) -> str:
    """The path and query of ``url`` (what the test client asks for)."""
    parts = urlsplit(url)
    return parts.path + ("?" + parts.query if parts.query else "")


def continue_url(page: TestResponse) -> str:
    """Where the "continue to your organization's sign-in" page goes (by itself, and by its
    link): a form cannot redirect out of the gateway (CSP ``form-action 'self'``)."""
    assert page.status_code == 200, page.text
    match = re.search(r'<a href="([^"]+)" data-testid="sso-continue"', page.text)
    assert match, page.text
    assert f'content="0;url={match.group(1)}"' in page.text
    return match.group(1).replace("&amp;", "&")


def sso_sign_in(client: FlaskClient, idp: OpenIdProvider, email: str, login: str,
                next: str = "") -> TestResponse:
    """A browser types ``email`` for single sign-on, signs in as ``login`` at the provider,
    and comes back: the gateway's answer to the callback."""
    start = client.get("/sso/start", query_string={"email": email, "next": next})
    go = client.get(continue_url(start))
    assert go.status_code == 302, go.text
    assert go.location.startswith(idp.issuer), go.location
    return client.get(local(idp.sign_in(go.location, login)))
