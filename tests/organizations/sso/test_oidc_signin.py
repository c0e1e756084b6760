"""Signing in through an organization's OpenID Provider (a real one, on loopback): the
just-in-time account, the managed existing account, identifier-first routing, and every
answer the gateway refuses (state, nonce, audience, expiry, unverified address, a provider
that does not answer), each with a page that says what happened and no session."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask

from gateway.organizations.sso.signin import TAKEOVER
from tests.organizations.conftest import People
from tests.organizations.sso.conftest import (
    CLIENT_SECRET,
    SsoOrg,
    account,
    add_oidc_connection,
    connection_ids,
    events,
    local,
    password_person,
    redirect_uri,
    sessions,
    signed_in_page,
    sso_sign_in,
)
from tests.organizations.test_domains import add_domain, txt_value, verify
from tests.support.console import PASSWORD, age_sessions
from tests.support.dns_zone import Zone
from tests.support.sso import continue_url


def test_a_new_person_signs_in_through_the_idp_and_gets_an_account(
    app: Flask, sso_org: SsoOrg
) -> None:
    browser = app.test_client()
    back = sso_sign_in(browser, sso_org.idp, "ann@example.com", "ann", next="/settings")
    assert back.status_code == 302 and back.location == "/settings"
    page = signed_in_page(browser)
    assert page is not None and "ann@example.com" in page
    ann = account(app, "ann@example.com")
    assert ann is not None and ann.is_verified and ann.password_hash == ""
    assert ann.managed_by_id == sso_org.org
    [session] = sessions(app, "ann@example.com")
    assert session.auth_methods == "fed" and session.idp == sso_org.idp.issuer
    members = sso_org.owner.client.get(f"/organizations/{sso_org.org}").text
    assert "ann@example.com" in members.split('data-testid="org-members"')[1]
    assert "Account created by single sign-on" in sso_org.audit()


def test_the_login_page_sends_an_address_at_the_domain_to_the_idp(
    app: Flask, sso_org: SsoOrg
) -> None:
    browser = app.test_client()
    form = browser.get("/login").text
    token = form.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    typed = browser.post("/login", data={"csrf_token": token, "email": "Ann@Example.com",
                                         "password": "", "next": "/settings"})
    assert continue_url(typed).startswith(f"/sso/oidc/{sso_org.connection}/start")
    go = browser.get(continue_url(typed))
    assert go.location.startswith(sso_org.idp.issuer + "/auth?")
    assert "code_challenge_method=S256" in go.location and "nonce=" in go.location
    back = browser.get(local(sso_org.idp.sign_in(go.location, "ann")))
    assert back.status_code == 302 and back.location == "/settings"
    # An address elsewhere keeps the password sign-in page.
    other = app.test_client()
    token = other.get("/login").text.split('name="csrf_token" type="hidden" value="')[1]
    answer = other.post("/login", data={"csrf_token": token.split('"')[0],
                                        "email": "x@elsewhere.test", "password": ""})
    assert answer.status_code == 400 and "<h1>Sign in</h1>" in answer.text


def test_a_product_handoff_of_an_address_at_the_domain_goes_to_the_idp(
    app: Flask, sso_org: SsoOrg
) -> None:
    browser = app.test_client()
    handed = browser.get("/login?login_hint=ann@example.com&next=/segment/")
    assert handed.status_code == 302
    assert handed.location.startswith(f"/sso/oidc/{sso_org.connection}/start?next=/segment/")
    back = browser.get(local(sso_org.idp.sign_in(browser.get(handed.location).location, "ann")))
    assert back.status_code == 302 and back.location == "/segment/"


def test_an_existing_account_at_the_domain_comes_under_the_organization(
    app: Flask, sso_org: SsoOrg, people: People
) -> None:
    bob = password_person(app, "bob@example.com")
    browser = app.test_client()
    back = sso_sign_in(browser, sso_org.idp, "bob@example.com", "bob")
    assert back.status_code == 302
    user = account(app, "bob@example.com")
    assert user is not None and user.id == bob.id and user.managed_by_id == sso_org.org
    assert user.password_hash  # a password account keeps its password
    assert not events(app, "sso_account_created")


def test_an_unconfirmed_sign_up_at_the_address_loses_the_password_it_was_started_with(
    app: Flask, sso_org: SsoOrg, people: People
) -> None:
    """Someone signed up with ann's address and a password of theirs, never confirmed: after
    ann signs in through her identity provider, that password opens nothing."""
    squatter = people("ann@example.com", verified=False)
    assert sso_sign_in(app.test_client(), sso_org.idp, "ann@example.com", "ann").status_code == 302
    ann = account(app, "ann@example.com")
    assert ann is not None and ann.id == squatter.id and ann.is_verified
    typed = squatter.actions.post("/login", form_path="/login?break_glass=1", break_glass="1",
                                  email="ann@example.com", password=PASSWORD)
    assert typed.status_code == 401


def test_a_tampered_state_is_refused(app: Flask, sso_org: SsoOrg) -> None:
    browser = app.test_client()
    go = browser.get(continue_url(browser.get("/sso/start?email=ann@example.com")))
    back = sso_org.idp.sign_in(go.location, "ann")
    state = back.split("state=")[1].split("&")[0]
    tampered = local(back).replace(f"state={state}", "state=" + "A" * len(state))
    answer = browser.get(tampered)
    assert answer.status_code == 400 and "state mismatch" in answer.text
    assert signed_in_page(browser) is None and account(app, "ann@example.com") is None
    # The flow was spent by the refused answer: the genuine one is refused too.
    assert browser.get(local(back)).status_code == 400
    assert "Single sign-on refused" in sso_org.audit()


def test_a_callback_cannot_be_used_twice_or_in_another_browser(app: Flask, sso_org: SsoOrg) -> None:
    browser = app.test_client()
    go = browser.get(continue_url(browser.get("/sso/start?email=ann@example.com")))
    back = local(sso_org.idp.sign_in(go.location, "ann"))
    assert app.test_client().get(back).status_code == 400  # not started there
    assert browser.get(back).status_code == 302
    replay = app.test_client()
    assert "already used" in replay.get(back).text


def test_an_id_token_for_another_sign_in_is_refused(app: Flask, sso_org: SsoOrg) -> None:
    sso_org.register(nonce="the-nonce-of-another-sign-in")
    answer = sso_sign_in(app.test_client(), sso_org.idp, "ann@example.com", "ann")
    assert answer.status_code == 400 and "nonce mismatch" in answer.text
    assert account(app, "ann@example.com") is None


def test_an_id_token_for_another_application_is_refused(app: Flask, sso_org: SsoOrg) -> None:
    sso_org.register(aud="another-application")
    answer = sso_sign_in(app.test_client(), sso_org.idp, "ann@example.com", "ann")
    assert answer.status_code == 400 and "audience mismatch" in answer.text
    assert account(app, "ann@example.com") is None


def test_an_expired_id_token_is_refused(app: Flask, sso_org: SsoOrg) -> None:
    sso_org.register(shift_seconds=-7200)
    answer = sso_sign_in(app.test_client(), sso_org.idp, "ann@example.com", "ann")
    assert answer.status_code == 400 and "expired" in answer.text
    assert account(app, "ann@example.com") is None


def test_an_id_token_from_another_issuer_is_refused(app: Flask, sso_org: SsoOrg) -> None:
    sso_org.register(iss="https://idp.attacker.test")
    answer = sso_sign_in(app.test_client(), sso_org.idp, "ann@example.com", "ann")
    assert answer.status_code == 400 and "issuer mismatch" in answer.text


def test_an_address_the_idp_has_not_verified_is_refused(app: Flask, sso_org: SsoOrg) -> None:
    answer = sso_sign_in(app.test_client(), sso_org.idp, "eve@example.com", "unverified")
    assert answer.status_code == 400 and "not verified your email" in answer.text
    assert account(app, "eve@example.com") is None


def test_an_idp_that_does_not_answer_gets_a_clear_page(app: Flask, sso_org: SsoOrg) -> None:
    browser = app.test_client()
    start = continue_url(browser.get("/sso/start?email=ann@example.com"))
    sso_org.idp.stop()
    answer = browser.get(start)
    assert answer.status_code == 502
    assert "did not answer" in answer.text and "Traceback" not in answer.text


def test_an_idp_asserting_an_address_outside_its_verified_domains_is_refused(
    app: Flask, sso_org: SsoOrg
) -> None:
    """The organization's own identity provider asserts an address at a domain it has not
    verified: refused, nothing made."""
    browser = app.test_client()
    go = browser.get(continue_url(browser.get("/sso/start?email=ann@example.com")))
    answer = browser.get(local(sso_org.idp.sign_in(go.location, "outsider")))
    assert answer.status_code == 403 and TAKEOVER in answer.text
    assert account(app, "zoe@elsewhere.test") is None and signed_in_page(browser) is None


def test_an_address_without_single_sign_on_gets_a_clear_page(app: Flask, sso_org: SsoOrg) -> None:
    answer = app.test_client().get("/sso/start?email=someone@elsewhere.test")
    assert answer.status_code == 404 and "not set up" in answer.text
    assert app.test_client().get("/sso/start?email=not-an-address").status_code == 400
    assert app.test_client().get("/sso/oidc/" + "0" * 32 + "/start").status_code == 404
    assert app.test_client().get("/sso/oidc/../callback").status_code == 404
    assert app.test_client().get(f"/sso/oidc/{sso_org.connection}/callback?state=x&code=y"
                                 ).status_code == 400


def test_another_organizations_idp_cannot_sign_in_an_address_at_this_domain(
    app: Flask, sso_org: SsoOrg, people: People, zone: Zone
) -> None:
    """Corp's identity provider (its owner's to configure) asserts ann@example.com, an
    address at the domain Acme verified: a takeover attempt of Acme's account, refused."""
    ann = sso_sign_in(app.test_client(), sso_org.idp, "ann@example.com", "ann")
    assert ann.status_code == 302
    boss = people("boss@corp.test")
    corp = boss.create_organization("Corp")
    domain_id = add_domain(boss, corp, "corp.test")
    zone.txt["_unified-login-challenge.corp.test"] = [txt_value(boss, corp, "corp.test")]
    assert "corp.test is verified" in verify(boss, corp, domain_id)
    assert add_oidc_connection(boss, corp, sso_org.idp.issuer, "corp-client").status_code == 302
    [corp_connection] = connection_ids(boss, corp)
    sso_org.idp.register("corp-client", CLIENT_SECRET, redirect_uri(boss, corp, corp_connection))
    before = len(sessions(app, "ann@example.com"))
    browser = app.test_client()
    go = browser.get(continue_url(browser.get("/sso/start?email=anyone@corp.test")))
    assert "client_id=corp-client" in go.location
    answer = browser.get(local(sso_org.idp.sign_in(go.location, "mallory")))
    assert answer.status_code == 403 and TAKEOVER in answer.text
    assert signed_in_page(browser) is None
    assert len(sessions(app, "ann@example.com")) == before
    user = account(app, "ann@example.com")
    assert user is not None and user.managed_by_id == sso_org.org
    assert "Single sign-on refused" in boss.client.get(f"/organizations/{corp}/audit").text


@pytest.mark.parametrize(("change", "words"), [
    (lambda q: q.replace("iss=", "iss=https%3A%2F%2Fidp.attacker.test&x="), "another identity"),
    (lambda q: re.sub(r"code=[^&]+", "error=access_denied", q), "did not sign you in"),
    (lambda q: re.sub(r"code=[^&]+", "code=" + "x" * 3000, q), "has no code"),
    (lambda q: re.sub(r"code=[^&]+", "code=forged", q), "refused to complete"),
], ids=["mixed-up-issuer", "idp-error", "huge-code", "forged-code"])
def test_hostile_callbacks_get_a_clear_refusal(
    app: Flask, sso_org: SsoOrg, change: Any, words: str
) -> None:
    browser = app.test_client()
    go = browser.get(continue_url(browser.get("/sso/start?email=ann@example.com")))
    back = local(sso_org.idp.sign_in(go.location, "ann"))
    answer = browser.get(change(back))
    assert answer.status_code == 400 and words in answer.text
    assert signed_in_page(browser) is None


def test_a_member_without_a_password_confirms_it_is_them_at_the_idp(
    app: Flask, sso_org: SsoOrg
) -> None:
    """Sensitive changes ask for a fresh confirmation; a just-in-time account has no password,
    so the identity provider is asked to sign the person in again (prompt=login, max_age=0),
    and the same session is confirmed."""
    browser = app.test_client()
    assert sso_sign_in(browser, sso_org.idp, "ann@example.com", "ann").status_code == 302
    age_sessions(app)
    asked = browser.get("/settings/password")
    assert asked.status_code == 302 and "/settings/reauthenticate" in asked.location
    page = browser.get(asked.location).text
    assert 'name="password"' not in page
    link = re.search(r'href="([^"]+)" data-testid="sso-reauth"', page)
    assert link
    go = browser.get(continue_url(browser.get(link.group(1).replace("&amp;", "&"))))
    assert "prompt=login" in go.location and "max_age=0" in go.location
    back = browser.get(local(sso_org.idp.sign_in(go.location, "ann")))
    assert back.status_code == 302 and back.location == "/settings/password"
    assert browser.get("/settings/password").status_code == 200
    [session] = sessions(app, "ann@example.com")  # confirmed, not a second session
    assert session.auth_methods == "fed"
