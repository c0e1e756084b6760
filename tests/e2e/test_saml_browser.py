"""A SAML sign-in in a real headless Chromium: the gateway served on a loopback port, the
IdP (pysaml2's IdP side, tests/support/saml_idp.py) on another site (``localhost`` against the
gateway's ``127.0.0.1``), so the IdP's form reaches the ACS as a real cross-site POST without
the SameSite=Lax session cookie, and the ACS's own page posts it on. The organization, its
verified domain (over DNS from a loopback server) and the connection are set up through the
services; the journey is the person's: type the work address, the IdP's answer, the
Console signed in."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.db import db
from gateway.models import User
from gateway.organizations import domains, membership
from gateway.organizations.sso import connections
from tests.e2e.browser import Steps
from tests.support.console import Actions, make_gateway_app
from tests.support.dns_zone import dns_zone
from tests.support.proxy_gateway import free_port
from tests.support.saml_idp import SamlIdp, saml_idp
from tests.support.served import serving

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[SamlIdp]:
    with saml_idp(tmp_path, host="localhost") as served:
        served.person = "bea@example.com"
        yield served


@pytest.fixture
def gateway(database_url: str, idp: SamlIdp) -> Iterator[str]:
    """The gateway on a loopback port: Acme verified example.com and connected the IdP."""
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    with dns_zone() as zone:
        app = make_gateway_app(database_url, PUBLIC_URL=public, DNS_RESOLVER=zone.address)
        owner_id = Actions(app, app.test_client()).create_user("ann@example.com").id
        with app.test_request_context():
            owner = db().get(User, owner_id)
            org = membership.create(owner, "Acme")
            row = domains.add(owner, org.id, "example.com")
            zone.txt[domains.record_name(row)] = [domains.record_value(row)]
            domains.verify(owner, org.id, row.id)
            connection = connections.create(owner, org.id, "saml", "Acme IdP",
                                            {"idp_metadata_url": idp.metadata_url})
            connection_id = connection.id
        with serving(app, port):
            idp.trust(app.test_client().get(f"/sso/saml/{connection_id}/metadata").data)
            yield public


def test_a_member_signs_in_through_the_saml_idp_in_a_browser(
        gateway: str, idp: SamlIdp, browser_page: Steps) -> None:
    page: Any = browser_page.page
    page.goto(gateway + "/sso/start")
    page.get_by_label("Work email").fill("bea@example.com")
    browser_page.shot("work-address")
    page.get_by_role("button", name="Continue").click()
    # The IdP answers at once (its own login is not the test's); its form posts to the ACS
    # cross-site, whose page posts it on from the gateway's origin; the person lands in the
    # Console, signed in.
    page.wait_for_url(gateway + "/")
    browser_page.shot("signed-in")
    assert "bea@example.com" in page.content()
    assert len(idp.requests) == 1
    settings = page.goto(gateway + "/settings")
    assert settings is not None and settings.status == 200
