"""SSO members keep the Product Switcher and every product (issue 25 item 6): people who sign in
through their organization's OpenID Provider (a real one, on loopback) link an existing
Segment user, create a new one, switch to SendGrid, and come back through a product's own
login page; the products see the single sign-on in the assertion (``amr`` ``fed``, ``idp``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.support.apps import dispose
from tests.support.console import make_gateway_app
from tests.support.dns_zone import Zone, dns_zone
from tests.support.oidc_idp import OpenIdProvider, openid_provider
from tests.support.product_servers import (
    GATEWAY_URL,
    SEGMENT_ALICE,
    SENDGRID_ALICE,
    Person,
    RunningProduct,
    gateway_settings,
    page,
    product_browser,
    product_login,
    switcher_state,
)
from tests.support.sso import local, set_up_organization, sso_sign_in

ACCOUNTS = {
    "alice": {"email": "alice@example.com", "email_verified": True},
    "newbie": {"email": "newbie@example.com", "email_verified": True},
}


@pytest.fixture
def zone() -> Iterator[Zone]:
    with dns_zone() as served:
        yield served


@pytest.fixture
def idp(tmp_path: Any) -> Iterator[OpenIdProvider]:
    with openid_provider(ACCOUNTS, tmp_path) as running:
        yield running


@pytest.fixture
def gateway(database_url: str, products: dict[str, RunningProduct], tmp_path: Any,
            zone: Zone, idp: OpenIdProvider) -> Iterator[Flask]:
    """The linking suite's gateway, with Acme (example.com verified, an OIDC connection to
    the provider) set up through its owner's pages."""
    app = make_gateway_app(database_url, **gateway_settings(products, tmp_path),
                   DNS_RESOLVER=zone.address)
    set_up_organization(app, zone, idp)
    yield app
    dispose(app)


def sso_member(gateway: Flask, idp: OpenIdProvider, login: str) -> Person:
    person = Person(gateway, gateway.test_client())
    person.email = ACCOUNTS[login]["email"]
    assert sso_sign_in(person.client, idp, person.email, login).status_code == 302
    return person


def test_an_sso_member_links_segment_switches_to_sendgrid_and_keeps_the_switcher(
    gateway: Flask, idp: OpenIdProvider, products: dict[str, RunningProduct]
) -> None:
    alice = sso_member(gateway, idp, "alice")
    assert switcher_state(page(alice.client.get("/"))) == {
        "console": "linked", "segment": "not-linked", "sendgrid": "not-linked"}
    assert alice.link("segment", *SEGMENT_ALICE).status_code == 302
    on_segment = alice.client.get("/segment/")
    assert on_segment.status_code == 200 and "alice@example.com" in page(on_segment)
    assert switcher_state(page(on_segment)) == {
        "console": "linked", "segment": "linked", "sendgrid": "not-linked"}
    # Segment's own session history says how the person signed in: the assertion's amr.
    history = page(alice.client.get("/segment/settings/sessions"))
    assert "unified login: single sign-on" in history
    # Switching to SendGrid: its link page, then linked, then in.
    assert alice.client.get("/sendgrid/").status_code == 302
    assert alice.link("sendgrid", *SENDGRID_ALICE).status_code == 302
    on_sendgrid = alice.client.get("/sendgrid/")
    assert on_sendgrid.status_code == 200
    every = {"console": "linked", "segment": "linked", "sendgrid": "linked"}
    assert switcher_state(page(on_sendgrid)) == every
    assert switcher_state(page(alice.client.get("/"))) == every


def test_an_sso_member_creates_a_segment_user(
    gateway: Flask, idp: OpenIdProvider, products: dict[str, RunningProduct]
) -> None:
    newbie = sso_member(gateway, idp, "newbie")
    assert newbie.create("segment").status_code == 302
    inside = newbie.client.get("/segment/")
    assert inside.status_code == 200 and "newbie@example.com" in page(inside)
    made = products["segment"].user("newbie@example.com")
    assert made is not None
    assert [(p, o) for p, _, o in newbie.links()] == [("segment", "created")]


def test_a_linked_sso_member_on_segments_own_login_page_signs_in_through_the_idp(
    gateway: Flask, idp: OpenIdProvider, products: dict[str, RunningProduct]
) -> None:
    alice = sso_member(gateway, idp, "alice")
    assert alice.link("segment", *SEGMENT_ALICE).status_code == 302
    alice.sign_out()
    sent = product_login(product_browser(), products["segment"].url, "alice@example.com")
    assert sent.status_code == 302
    login_path = sent.headers["Location"].removeprefix(GATEWAY_URL)
    assert login_path.startswith("/login?")
    to_sso = alice.client.get(login_path)
    assert to_sso.status_code == 302 and to_sso.location.startswith("/sso/oidc/")
    go = alice.client.get(to_sso.location)
    back = alice.client.get(local(idp.sign_in(go.location, "alice")))
    assert back.status_code == 302 and back.location == "/segment/"
    inside = alice.client.get("/segment/")
    assert inside.status_code == 200 and "alice@example.com" in page(inside)
