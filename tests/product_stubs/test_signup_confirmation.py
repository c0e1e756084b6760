"""A product sign-up makes no user until the mailbox owner follows the mailed link and chooses
the password there: an unverified sign-up blocks no Console user and accepts no invitation; the
link is built from the configured address, never the request's Host; links expire and cannot
be forged; mail to one address is capped (issue 10's attack run, product side).
"""

from __future__ import annotations

import re
import time

import pytest
from flask import Flask
from itsdangerous import TimestampSigner
from sqlalchemy import select

from product_stubs.kit.db import session_factory
from product_stubs.kit.models import User
from tests.product_stubs.test_teams import PASSWORD, invite, setup_team
from tests.support.product_apps import Helper

NEW_PASSWORD = "a brand new long password"


def _confirm_link(h: Helper, to: str) -> str:
    found = re.search(r"https?://\S+/signup/confirm/\S+", h.mails(to)[-1].body)
    assert found, h.mails(to)[-1].body
    return found.group(0)


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def _user(app: Flask, email: str) -> User | None:
    with session_factory(app)() as db:
        return db.scalar(select(User).where(User.email == email))


@pytest.mark.cwe(287)
def test_unverified_signup_blocks_no_console_user(h: Helper) -> None:
    victim = "console.victim@example.com"
    attacker = h.app.test_client()
    answer = attacker.post("/signup", data={"email": victim, "password": "attacker password 1"})
    assert answer.status_code == 200 and "Check your inbox" in answer.get_data(as_text=True)
    assert _user(h.app, victim) is None  # nothing exists until the mailbox owner acts
    assert attacker.get("/", headers={"Accept": "application/json"}).status_code == 401
    assert h.sign_in(victim, "attacker password 1", attacker).status_code == 200  # not signed in
    verify = h.client.post(
        "/internal/link/verify",
        json={"email": victim, "password": "attacker password 1"},
        headers=h.bearer(),
    )
    assert verify.status_code == 401
    created = h.create_scim_user(victim, "console-victim")  # the Console's "create a new user"
    assert created["userName"] == victim
    # The link mailed for the attacker's sign-up is dead once the address has its user.
    link = _path(_confirm_link(h, victim))
    assert h.app.test_client().post(link, data={"password": NEW_PASSWORD}).status_code == 409


@pytest.mark.cwe(287)
def test_invitation_needs_a_verified_address(h: Helper) -> None:
    cid, clients, _ = setup_team(h)
    token = invite(clients["owner"], h.app, cid, "invited@example.com", "admin")
    attacker = h.app.test_client()
    attacker.post("/signup", data={"email": "invited@example.com", "password": PASSWORD})
    refused = attacker.post(f"/invitations/{token}/accept", headers={"Accept": "application/json"})
    assert refused.status_code == 401
    # The mailbox owner follows the link, chooses the password, then accepts.
    owner = h.app.test_client()
    link = _path(_confirm_link(h, "invited@example.com"))
    assert "Choose a password" in owner.get(link).get_data(as_text=True)
    assert owner.post(link, data={"password": NEW_PASSWORD}).status_code == 302
    assert owner.post(f"/invitations/{token}/accept").status_code == 302
    assert h.sign_in("invited@example.com", PASSWORD, h.app.test_client()).status_code == 200
    assert h.sign_in("invited@example.com", NEW_PASSWORD, h.app.test_client()).status_code == 302


@pytest.mark.cwe(640)
def test_signup_link_ignores_the_host_header(h: Helper) -> None:
    h.client.post("/signup", data={"email": "hosted@example.com"}, headers={"Host": "evil.example"})
    link = _confirm_link(h, "hosted@example.com")
    assert link.startswith(h.app.config["SITE_URL"] + "/signup/confirm/")
    assert "evil.example" not in link


@pytest.mark.cwe(287)
def test_confirm_links_expire_and_are_not_forgeable(
    h: Helper, monkeypatch: pytest.MonkeyPatch
) -> None:
    three_days_ago = int(time.time()) - 3 * 86400
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: three_days_ago)
    h.client.post("/signup", data={"email": "slow@example.com"})
    monkeypatch.undo()
    expired = _path(_confirm_link(h, "slow@example.com"))
    assert h.client.post(expired, data={"password": NEW_PASSWORD}).status_code == 400
    assert h.client.get("/signup/confirm/made-up-token").status_code == 400
    assert _user(h.app, "slow@example.com") is None


@pytest.mark.cwe(400)
def test_signup_mail_to_one_address_is_capped(h: Helper) -> None:
    for _ in range(12):
        assert h.client.post("/signup", data={"email": "stranger@example.com"}).status_code in {
            200,
            429,
        }
    assert 1 <= len(h.mails("stranger@example.com")) <= 5
