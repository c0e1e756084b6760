"""SAML sign-in through the gateway's routes (/sso/saml/<connection>/metadata|start|acs), with
a real IdP on loopback (pysaml2's IdP side, tests/support/saml_idp.py): the owner connects it
on the organization's page (its metadata fetched from its URL), the IdP trusts the gateway's
SP metadata, and a person signs in: browser -> gateway -> IdP over real HTTP -> the IdP's
form posted to the ACS. Every refusal is a 4xx page with no session and no account made."""

from __future__ import annotations

import base64
import dataclasses
import html
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from gateway.db import new_session
from gateway.models import AuditEvent, LoginSession, SsoConnection, User
from tests.organizations.conftest import People, Person
from tests.organizations.sso.test_saml_protocol import xsw_before, xsw_wrapped_in_forged
from tests.organizations.test_domains import verified_org
from tests.support import switches
from tests.support.console import make_gateway_app
from tests.support.dns_zone import Zone
from tests.support.saml_idp import Misbehaviour, SamlIdp, form_action, form_fields, saml_idp


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[SamlIdp]:
    with saml_idp(tmp_path) as served:
        served.person = "bea@example.com"
        yield served


def add_saml_connection(owner: Person, org: str, **fields: str) -> Any:
    return owner.post(f"/organizations/{org}/sso/connections", kind="saml",
                      **{"new-saml-name": "Acme IdP",
                         **{f"new-saml-{k}": v for k, v in fields.items()}})


def connection_ids(app: Flask) -> list[str]:
    with app.app_context(), new_session() as session:
        return list(session.scalars(select(SsoConnection.id)))


@dataclasses.dataclass
class Setup:
    app: Flask
    owner: Person
    org: str
    connection: str
    idp: SamlIdp

    def path(self, name: str) -> str:
        return f"/sso/saml/{self.connection}/{name}"


@pytest.fixture
def setup(app: Flask, people: People, zone: Zone, idp: SamlIdp) -> Setup:
    """Acme verified example.com and connected the IdP by its metadata URL; the IdP's
    administrator registered the gateway's SP metadata."""
    owner = people("ann@example.com")
    org = verified_org(people, zone, owner)
    answer = add_saml_connection(owner, org, idp_metadata_url=idp.metadata_url)
    assert answer.status_code == 302, answer.text
    [connection] = connection_ids(app)
    page = owner.client.get(f"/organizations/{org}/sso").text
    assert f"/sso/saml/{connection}/acs" in page and idp.entity_id in page
    metadata = app.test_client().get(f"/sso/saml/{connection}/metadata")
    assert metadata.status_code == 200
    assert metadata.mimetype == "application/samlmetadata+xml"
    idp.trust(metadata.data)
    return Setup(app, owner, org, connection, idp)


def to_idp_and_back(setup: Setup, browser: FlaskClient, next_to: str = "/") -> str:
    """The browser starts at the gateway, visits the IdP, and holds the IdP's answer."""
    start = browser.get(setup.path("start"), query_string={"next": next_to})
    assert start.status_code == 302
    assert start.location.startswith(setup.idp.base_url + "/sso?SAMLRequest=")
    page = requests.get(start.location, timeout=10)
    assert page.status_code == 200
    assert form_action(page.text).endswith(setup.path("acs"))
    return form_fields(page.text)["SAMLResponse"]


def post_answer(setup: Setup, browser: FlaskClient, saml_response: str) -> Any:
    return browser.post(setup.path("acs"), data={"SAMLResponse": saml_response})


def signed_in_as(browser: FlaskClient) -> str | None:
    page = browser.get("/settings")
    if page.status_code != 200:
        return None
    match = re.search(r"[\w.+-]+@[\w.-]+", page.text.split("<main", 1)[-1])
    return match.group(0) if match else None


def counts(app: Flask) -> tuple[int, int]:
    with app.app_context(), new_session() as session:
        users = session.scalar(select(func.count()).select_from(User))
        sessions = session.scalar(select(func.count()).select_from(LoginSession))
    return int(users or 0), int(sessions or 0)


def refusals(app: Flask) -> list[str]:
    """The details of the refused sign-ins in the audit log."""
    with app.app_context(), new_session() as session:
        return list(session.scalars(select(AuditEvent.detail)
                                    .where(AuditEvent.event == "sso_login_refused")))


def test_a_new_member_signs_in_through_the_idp_just_in_time(setup: Setup) -> None:
    browser = setup.app.test_client()
    answer = post_answer(setup, browser, to_idp_and_back(setup, browser, "/settings"))
    assert answer.status_code == 302, answer.text
    assert answer.location.endswith("/settings")
    assert signed_in_as(browser) == "bea@example.com"
    with setup.app.app_context(), new_session() as session:
        user = session.scalars(select(User).where(User.email == "bea@example.com")).one()
        assert user.is_verified and user.managed_by_id == setup.org
        login = session.scalars(select(LoginSession).where(LoginSession.user_id == user.id)).one()
        assert login.idp == setup.idp.entity_id
        assert login.auth_methods.split(",")[0] == "fed" and "pwd" in login.auth_methods


def test_a_saml_member_confirms_it_is_them_through_the_idp(setup: Setup) -> None:
    """Re-authentication for a sensitive change (a just-in-time account has no password):
    ForceAuthn at the IdP, a fresh AuthnInstant, the same session confirmed (no new one)."""
    browser = setup.app.test_client()
    assert post_answer(setup, browser, to_idp_and_back(setup, browser)).status_code == 302
    before = counts(setup.app)

    def confirm() -> Any:
        start = browser.get(setup.path("start"), query_string={"next": "/settings",
                                                               "reauth": "1"})
        page = requests.get(start.location, timeout=10)
        assert setup.idp.forced[-1] is True
        return post_answer(setup, browser, form_fields(page.text)["SAMLResponse"])

    confirmed = confirm()
    assert confirmed.status_code == 302 and confirmed.location.endswith("/settings")
    assert counts(setup.app) == before
    # An IdP that ignores ForceAuthn (its AuthnInstant is half an hour old) confirms nothing.
    setup.idp.misbehave = Misbehaviour(authenticated_at=timedelta(minutes=-30))
    refused = confirm()
    assert refused.status_code == 400 and "did not ask you to sign in again" in refused.text
    assert counts(setup.app) == before
    assert signed_in_as(browser) == "bea@example.com"  # still the session it had


def test_identifier_first_sends_the_address_to_the_idp(setup: Setup) -> None:
    browser = setup.app.test_client()
    routed = browser.get("/sso/start", query_string={"email": "Bea@Example.com"})
    assert routed.status_code == 200  # a page that continues (CSP form-action: sso.continue_to)
    link = re.search(r'href="([^"]+)" data-testid="sso-continue"', routed.text)
    assert link and html.unescape(link.group(1)).startswith(setup.path("start"))


def _misbehaving(setup: Setup, browser: FlaskClient, bad: Misbehaviour) -> str:
    setup.idp.misbehave = bad
    return to_idp_and_back(setup, browser)


def _tampered(tamper: Any) -> Any:
    def make(setup: Setup, browser: FlaskClient) -> str:
        genuine = to_idp_and_back(setup, browser)
        xml = tamper(base64.b64decode(genuine).decode())
        return base64.b64encode(xml.encode()).decode()
    return make


def _foreign(setup: Setup, browser: FlaskClient) -> str:
    setup.idp.person = "eve@elsewhere.test"
    return to_idp_and_back(setup, browser)


CASES = {
    "unsigned assertion": (lambda s, b: _misbehaving(s, b, Misbehaviour(sign_assertion=False)),
                           400, "not signed"),
    "signed by another key": (lambda s, b: _misbehaving(s, b, Misbehaviour(impostor=True)),
                              400, "not signed"),
    "expired": (lambda s, b: _misbehaving(s, b, Misbehaviour(
        valid_from=timedelta(minutes=-20), valid_until=timedelta(minutes=-10))),
        400, "expired"),
    "wrong audience": (lambda s, b: _misbehaving(s, b, Misbehaviour(
        audience="https://other.example/sso/saml/x/metadata")), 400, "another service"),
    "wrong destination": (lambda s, b: _misbehaving(s, b, Misbehaviour(
        destination="https://other.example/sso/saml/x/acs")), 400, "another address"),
    "XSW forged assertion first": (_tampered(xsw_before), 400, "exactly one assertion"),
    "XSW signed assertion wrapped": (_tampered(xsw_wrapped_in_forged), 400,
                                     "exactly one assertion"),
    "address at a domain the organization has not verified": (_foreign, 403,
                                                              "cannot sign in addresses"),
}


@pytest.mark.parametrize("make, status, words", CASES.values(), ids=CASES.keys())
def test_a_bad_answer_at_the_acs_is_refused_and_changes_nothing(
        setup: Setup, make: Any, status: int, words: str) -> None:
    browser = setup.app.test_client()
    saml_response = make(setup, browser)
    before = counts(setup.app)
    answer = post_answer(setup, browser, saml_response)
    assert answer.status_code == status, answer.text
    assert words in answer.text
    assert "Traceback" not in answer.text
    assert counts(setup.app) == before
    assert signed_in_as(browser) is None
    assert refusals(setup.app), "the refusal is in the organization's audit"


def test_a_replayed_answer_signs_nobody_in(setup: Setup) -> None:
    """The same answer posted again, by the same browser or another one (stolen from a log
    or a shared computer's history): refused, no second session."""
    browser = setup.app.test_client()
    saml_response = to_idp_and_back(setup, browser)
    assert post_answer(setup, browser, saml_response).status_code == 302
    before = counts(setup.app)
    thief = setup.app.test_client()
    bounced = post_answer(setup, thief, saml_response)
    assert bounced.status_code == 200  # the page that posts it on from our own origin
    again = thief.post(setup.path("acs"), data={"SAMLResponse": saml_response, "bounced": "1"})
    assert again.status_code == 400 and "not started in this browser" in again.text
    thief.get(setup.path("start"))  # even with a sign-in of its own waiting
    assert post_answer(setup, thief, saml_response).status_code == 400
    assert counts(setup.app) == before
    assert signed_in_as(thief) is None


def test_the_idps_cross_site_post_is_posted_again_from_our_origin(setup: Setup) -> None:
    """A real browser posts the IdP's form without the SameSite=Lax session cookie: the ACS
    answers with a page of ours that posts it again (with the cookie), and sets no cookie."""
    browser = setup.app.test_client()
    saml_response = to_idp_and_back(setup, browser)
    cookieless = setup.app.test_client()
    page = post_answer(setup, cookieless, saml_response)
    assert page.status_code == 200
    assert "Set-Cookie" not in page.headers
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">',
                             page.text))
    assert fields == {"SAMLResponse": saml_response, "bounced": "1"}
    assert f'action="{setup.path("acs")}"' in page.text
    # The browser that started the sign-in posts it on: signed in.
    assert browser.post(setup.path("acs"), data=fields).status_code == 302
    assert signed_in_as(browser) == "bea@example.com"


def test_garbage_at_the_acs_is_a_clear_400(setup: Setup) -> None:
    browser = setup.app.test_client()
    to_idp_and_back(setup, browser)
    for value in ("", "!!!", base64.b64encode(b"<x/>").decode(), "A" * 50_000):
        browser.get(setup.path("start"))
        answer = post_answer(setup, browser, value)
        assert answer.status_code == 400, value[:20]
        assert "Traceback" not in answer.text
    assert setup.app.test_client().post(setup.path("acs")).status_code == 400
    assert setup.app.test_client().post("/sso/saml/" + "0" * 32 + "/acs").status_code == 404
    assert setup.app.test_client().get("/sso/saml/nope/metadata").status_code == 404


def test_bad_idp_metadata_is_refused_on_the_owners_page(
        app: Flask, people: People, zone: Zone, idp: SamlIdp) -> None:
    owner = people("ann@example.com")
    org = verified_org(people, zone, owner)
    for fields, words in (
            ({"idp_metadata": "<not metadata"}, "not SAML 2.0 metadata"),
            ({"idp_metadata": ""}, "Paste"),
            ({"idp_metadata_url": idp.base_url + "/nothing-here"}, "HTTP 404"),
            ({"idp_metadata_url": "ftp://idp.example/metadata"}, "https")):
        answer = add_saml_connection(owner, org, **fields)
        shown = owner.client.get(answer.location).text if answer.status_code == 302 \
            else answer.text
        assert words in shown, fields
    assert connection_ids(app) == []
    # Pasted metadata works as well as its URL.
    assert add_saml_connection(owner, org, idp_metadata=idp.metadata).status_code == 302
    assert len(connection_ids(app)) == 1


def test_without_the_tests_switch_metadata_is_fetched_over_https_only(
        database_url: str, zone: Zone, idp: SamlIdp) -> None:
    """As deployed: the IdP's metadata URL on plain http is refused, nothing stored."""
    app = make_gateway_app(database_url, DNS_RESOLVER=zone.address, switches=dataclasses.replace(
        switches.GATEWAY, plain_http_identity_providers=False))
    people = People(app)
    owner = people("ann@example.com")
    org = verified_org(people, zone, owner)
    answer = add_saml_connection(owner, org, idp_metadata_url=idp.metadata_url)
    assert answer.status_code == 302
    assert "https URL" in owner.client.get(answer.location).text
    assert connection_ids(app) == []
