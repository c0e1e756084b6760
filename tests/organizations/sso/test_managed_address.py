"""An account its organization manages keeps an address at the organization's verified
domains: the Console's email change to an address elsewhere is refused (at the request, and
at the confirmation of a change asked before the account came under), for password-less
single sign-on accounts and password accounts alike; within the domains it goes on."""

from __future__ import annotations

from html import unescape

from flask import Flask
from sqlalchemy import select

from gateway.db import new_session
from gateway.models import EmailChange
from tests.organizations.sso.conftest import SsoOrg, account, password_person
from tests.support.console import Actions
from tests.support.sso import sso_sign_in

MANAGED = "Your organization's identity provider manages this address"


def changes(app: Flask) -> list[str]:
    with app.app_context(), new_session() as session:
        return sorted(session.scalars(select(EmailChange.new_email)))


def test_a_single_sign_on_account_cannot_move_its_address_out_of_the_domain(
        app: Flask, sso_org: SsoOrg) -> None:
    browser = app.test_client()
    assert sso_sign_in(browser, sso_org.idp, "ann@example.com", "ann").status_code == 302
    ann = Actions(app, browser)
    answer = ann.post("/settings/email", email="ann@elsewhere.test")
    assert answer.status_code == 403
    assert MANAGED in unescape(answer.text) and "at @example.com" in unescape(answer.text)
    assert changes(app) == [] and ann.mails("ann@elsewhere.test") == []

    within = ann.post("/settings/email", email="ann.smith@example.com")
    assert within.status_code == 200 and changes(app) == ["ann.smith@example.com"]


def test_a_change_asked_before_the_account_came_under_is_refused_at_confirmation(
        app: Flask, sso_org: SsoOrg) -> None:
    bob = password_person(app, "bob@example.com")
    assert bob.actions.post("/settings/email", email="bob@elsewhere.test").status_code == 200
    # Bob signs in through the organization's IdP: his account comes under it.
    assert sso_sign_in(bob.client, sso_org.idp, "bob@example.com", "bob").status_code == 302
    link = bob.actions.mailed_link("bob@elsewhere.test")
    answer = bob.actions.post("/settings/email/confirm", form_path=link,
                              token=link.split("token=")[1])
    assert answer.status_code == 403 and MANAGED in unescape(answer.text)
    user = account(app, "bob@example.com")
    assert user is not None and user.email == "bob@example.com"
