"""A sign-up nobody has confirmed yet (the pre-account hijack of issue 10's attack run): the
mailbox owner's sign-up replaces a stranger's pending one, the mailed link confirms only the
latest, a verified account is never replaced, and an unconfirmed sign-up expires.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from gateway.db import new_session
from gateway.models import User, utcnow
from tests.support.console import Actions, sign_up_in_a_new_browser

ATTACKER_PASSWORD = "attacker owns this passphrase"


VICTIM_PASSWORD = "victim chose this passphrase"


def links(actions: Actions, recipient: str) -> list[str]:
    found = [re.search(r"https?://[^/\s]+(/\S+)", m.body) for m in actions.mails(recipient)]
    return [m.group(1) for m in found if m and "/verify-email?token=" in m.group(1)]


def confirm(app: Flask, link: str, password: str = VICTIM_PASSWORD) -> int:
    """The mailbox owner opens ``link`` and confirms with the password they chose."""
    visitor = Actions(app, app.test_client())
    token = link.split("token=", 1)[1]
    return visitor.post("/verify-email", form_path=link, token=token,
                        password=password).status_code


def login_status(app: Flask, email: str, password: str) -> int:
    return Actions(app, app.test_client()).sign_in(email, password).status_code


@pytest.mark.cwe(640)
def test_victim_signup_replaces_the_attackers_pending_password(
    actions: Actions, app: Flask
) -> None:
    attacker_page = sign_up_in_a_new_browser(app, "victim@example.com", ATTACKER_PASSWORD)
    victim_page = sign_up_in_a_new_browser(app, "victim@example.com", VICTIM_PASSWORD)
    assert attacker_page == victim_page  # the same answer: nothing to tell them apart
    mailed = links(actions, "victim@example.com")
    assert len(mailed) == 2
    first, latest = mailed
    # The link mailed for the attacker's attempt verifies nothing any more ...
    assert confirm(app, first, ATTACKER_PASSWORD) == 400
    assert not actions.user("victim@example.com").is_verified
    # ... the victim's own link verifies the victim's password, and only it.
    assert confirm(app, latest) == 200
    assert login_status(app, "victim@example.com", ATTACKER_PASSWORD) == 401
    assert login_status(app, "victim@example.com", VICTIM_PASSWORD) == 302


@pytest.mark.cwe(640)
def test_attackers_later_signup_cannot_be_confirmed_by_the_victim(
    actions: Actions, app: Flask
) -> None:
    """The attacker signs up again *after* the victim: the newest link in the victim's inbox is
    for the attacker's password. Following it with the victim's own password confirms nothing,
    so the attacker's password never owns a confirmed account; the victim signs up again."""
    sign_up_in_a_new_browser(app, "victim@example.com", VICTIM_PASSWORD)
    sign_up_in_a_new_browser(app, "victim@example.com", ATTACKER_PASSWORD)
    newest = links(actions, "victim@example.com")[-1]
    assert confirm(app, newest, VICTIM_PASSWORD) == 400
    assert not actions.user("victim@example.com").is_verified
    assert login_status(app, "victim@example.com", ATTACKER_PASSWORD) == 403  # unconfirmed
    sign_up_in_a_new_browser(app, "victim@example.com", VICTIM_PASSWORD)
    assert confirm(app, links(actions, "victim@example.com")[-1], VICTIM_PASSWORD) == 200
    assert login_status(app, "victim@example.com", ATTACKER_PASSWORD) == 401
    assert login_status(app, "victim@example.com", VICTIM_PASSWORD) == 302


@pytest.mark.cwe(640)
def test_resent_link_is_for_the_latest_signup(actions: Actions, app: Flask) -> None:
    sign_up_in_a_new_browser(app, "victim@example.com", ATTACKER_PASSWORD)
    sign_up_in_a_new_browser(app, "victim@example.com", VICTIM_PASSWORD)
    resent = actions.post("/verify-email/resend", form_path="/signup", email="victim@example.com")
    assert resent.status_code == 200
    assert confirm(app, links(actions, "victim@example.com")[-1]) == 200
    assert login_status(app, "victim@example.com", ATTACKER_PASSWORD) == 401
    assert login_status(app, "victim@example.com", VICTIM_PASSWORD) == 302


@pytest.mark.cwe(640)
def test_a_verified_account_is_never_replaced(actions: Actions, app: Flask) -> None:
    actions.create_user("owner@example.com", password=VICTIM_PASSWORD)
    sign_up_in_a_new_browser(app, "owner@example.com", ATTACKER_PASSWORD)
    assert login_status(app, "owner@example.com", ATTACKER_PASSWORD) == 401
    assert login_status(app, "owner@example.com", VICTIM_PASSWORD) == 302
    assert links(actions, "owner@example.com") == []


def _age_signups(app: Flask, hours: int) -> None:
    with app.app_context(), new_session() as session:
        session.execute(update(User).values(created_at=utcnow() - timedelta(hours=hours)))
        session.commit()


@pytest.mark.cwe(287)
def test_unverified_signup_expires(actions: Actions, app: Flask) -> None:
    """A sign-up nobody confirmed within the link lifetime is gone: its password no longer
    reaches even the "confirm your email" page, and it can no longer be confirmed."""
    sign_up_in_a_new_browser(app, "stale@example.com", ATTACKER_PASSWORD)
    link = links(actions, "stale@example.com")[-1]
    _age_signups(app, 25)
    assert login_status(app, "stale@example.com", ATTACKER_PASSWORD) == 401
    assert confirm(app, link, ATTACKER_PASSWORD) == 400
    assert not actions.user("stale@example.com").is_verified
