"""Owners' single sign-on pages: adding, changing and removing connections, as owners only,
within their own organization; hostile or wrong settings are refused with the reason and
nothing stored; the client secret is never shown back."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from gateway.db import new_session
from gateway.models import SsoConnection
from tests.organizations.conftest import People
from tests.organizations.sso.conftest import (
    CLIENT_SECRET,
    SsoOrg,
    add_oidc_connection,
    connection_ids,
    sso_sign_in,
)
from tests.support.oidc_idp import OpenIdProvider


def stored(app: Flask) -> list[SsoConnection]:
    with app.app_context(), new_session() as db:
        return list(db.scalars(select(SsoConnection)))


def flashed(sso_org: SsoOrg, answer: object) -> str:
    location = getattr(answer, "location", None)
    assert location, answer
    return sso_org.owner.client.get(location).text


def test_the_client_secret_is_sealed_and_never_shown(app: Flask, sso_org: SsoOrg) -> None:
    [row] = stored(app)
    assert CLIENT_SECRET not in row.config and "client_secret_sealed" in row.config
    page = sso_org.owner.client.get(f"/organizations/{sso_org.org}/sso").text
    assert CLIENT_SECRET not in page and "A secret is set" in page


@pytest.mark.parametrize(("fields", "reason"), [
    ({"issuer": "ftp://idp.example.com"}, "Enter the issuer as an https URL"),
    ({"issuer": "javascript:alert(1)"}, "Enter the issuer as an https URL"),
    ({"issuer": "http://user:pw@127.0.0.1:1/"}, "Enter the issuer as an https URL"),
    ({"client_id": ""}, "Enter the client ID"),
    ({"client_id": "a\x00b"}, "Enter the client ID"),
    ({"issuer": "http://127.0.0.1:9/"}, "discovery document could not be read"),
    ({"name": "x" * 101}, None),
], ids=["ftp", "javascript", "userinfo", "no-client-id", "nul", "unreachable", "long-name"])
def test_wrong_settings_are_refused_and_nothing_stored(
    app: Flask, sso_org: SsoOrg, fields: dict[str, str], reason: str | None
) -> None:
    base = {"name": "Second", "issuer": sso_org.idp.issuer, "client_id": "x",
            "client_secret": ""}
    data = {f"new-oidc-{k}": v for k, v in (base | fields).items()}
    answer = sso_org.owner.post(f"/organizations/{sso_org.org}/sso/connections", kind="oidc",
                                **{"new-oidc-csrf_token": sso_org.owner.token()}, **data)
    if reason is None:
        assert answer.status_code == 400
    else:
        assert reason in flashed(sso_org, answer)
    assert len(stored(app)) == 1


def test_an_issuer_whose_discovery_names_another_issuer_is_refused(
    app: Flask, sso_org: SsoOrg
) -> None:
    answer = add_oidc_connection(sso_org.owner, sso_org.org, sso_org.idp.issuer + "/",
                                 name="Slash")
    assert "names another issuer" in flashed(sso_org, answer)
    assert len(stored(app)) == 1


def test_an_unknown_kind_is_a_bad_request(app: Flask, sso_org: SsoOrg) -> None:
    answer = sso_org.owner.post(f"/organizations/{sso_org.org}/sso/connections", kind="ldap",
                                **{"new-ldap-csrf_token": sso_org.owner.token(),
                                   "new-ldap-name": "x"})
    assert answer.status_code == 400 and len(stored(app)) == 1


def test_turning_a_connection_off_stops_routing_to_it(app: Flask, sso_org: SsoOrg) -> None:
    cid = sso_org.connection
    answer = sso_org.owner.client.post(
        f"/organizations/{sso_org.org}/sso/connections/{cid}",
        data={f"{cid}-csrf_token": sso_org.owner.token(), f"{cid}-name": "Renamed",
              f"{cid}-issuer": sso_org.idp.issuer, f"{cid}-client_id": "unified-login-gateway",
              f"{cid}-client_secret": ""})
    assert answer.status_code == 302
    [row] = stored(app)
    assert row.name == "Renamed" and not row.enabled and "client_secret_sealed" in row.config
    assert app.test_client().get("/sso/start?email=ann@example.com").status_code == 404
    assert app.test_client().get(f"/sso/oidc/{cid}/start").status_code == 404


def test_a_saml_connection_with_unusable_metadata_is_refused(app: Flask, sso_org: SsoOrg) -> None:
    """SAML is a kind like OIDC now (tests/organizations/sso/test_saml_signin.py): metadata
    that describes no identity provider is a message, nothing stored, routing unchanged."""
    answer = sso_org.owner.post(f"/organizations/{sso_org.org}/sso/connections", kind="saml",
                                **{"new-saml-csrf_token": sso_org.owner.token(),
                                   "new-saml-name": "Entra",
                                   "new-saml-idp_metadata": "<EntityDescriptor/>"})
    assert answer.status_code == 302
    assert "metadata" in flashed(sso_org, answer)
    assert len(stored(app)) == 1
    start = app.test_client().get("/sso/start?email=ann@example.com")
    assert start.status_code == 200 and "sso-continue" in start.text  # still the OIDC one


def test_only_owners_see_or_change_connections_and_only_their_own(
    app: Flask, sso_org: SsoOrg, people: People, idp: OpenIdProvider
) -> None:
    admin = people("admin@corp.test")
    people.join(sso_org.org, sso_org.owner, admin, "admin")
    base = f"/organizations/{sso_org.org}/sso"
    assert admin.client.get(base).status_code == 403
    assert admin.post(f"{base}/connections/{sso_org.connection}/remove").status_code == 403
    stranger = people("stranger@corp.test")
    theirs = stranger.create_organization("Theirs")
    assert stranger.client.get(base).status_code == 404
    # Another organization's connection id, under one's own organization: nothing there.
    answer = stranger.post(f"/organizations/{theirs}/sso/connections/{sso_org.connection}"
                           "/remove")
    assert answer.status_code == 404
    assert len(stored(app)) == 1 and connection_ids(sso_org.owner, sso_org.org)


def test_removing_a_connection_keeps_its_members_accounts(app: Flask, sso_org: SsoOrg) -> None:
    assert sso_sign_in(app.test_client(), sso_org.idp, "ann@example.com", "ann").status_code == 302
    answer = sso_org.owner.post(f"/organizations/{sso_org.org}/sso/connections/"
                                f"{sso_org.connection}/remove")
    assert "Connection removed" in flashed(sso_org, answer)
    assert stored(app) == []
    members = sso_org.owner.client.get(f"/organizations/{sso_org.org}").text
    assert "ann@example.com" in members
