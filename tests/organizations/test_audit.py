"""An organization's audit view: its own events and its members' security events (sign-ins,
2FA changes) from when each joined, never a non-member's nor what came before joining."""

from __future__ import annotations

import re

import pyotp

from tests.organizations.conftest import People, Person


def turn_on_2fa(person: Person) -> None:
    page = person.client.get("/settings/2fa/enable").text
    shown = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page)
    assert shown, page
    code = pyotp.TOTP(shown.group(1).replace(" ", "")).now()
    answer = person.actions.post("/settings/2fa/enable", code=code)
    assert answer.status_code == 200, answer.status_code


def test_audit_shows_members_sign_ins_and_2fa_changes_since_they_joined(
    people: People
) -> None:
    ann, bob = people("ann@example.com"), people("bob@example.com")
    org = ann.create_organization("Acme")
    people.join(org, ann, bob)
    bob.actions.sign_out()
    assert bob.actions.sign_in("bob@example.com").status_code == 302
    turn_on_2fa(bob)
    page = ann.client.get(f"/organizations/{org}/audit")
    assert page.status_code == 200
    rows = [row for row in page.text.split('data-testid="org-audit"')[1].split("<tr>")
            if "bob@example.com" in row]
    for what in ("Invitation to an organization sent", "Joined an organization", "Signed in",
                 "Signed out", "Two-factor authentication turned on"):
        assert any(what in row for row in rows), what


def test_audit_leaves_out_non_members_and_events_before_joining(people: People) -> None:
    ann, bob, eve = people("ann@example.com"), people("bob@example.com"), people("e@example.com")
    org = ann.create_organization("Acme")
    eve.actions.sign_out()
    eve.actions.sign_in("e@example.com")
    # Bob signed in (fixture) before joining: that sign-in is not the organization's business.
    people.join(org, ann, bob)
    rows = ann.client.get(f"/organizations/{org}/audit").text.split('data-testid="org-audit"')[1]
    assert "e@example.com" not in rows
    bob_rows = [line for line in rows.split("<tr>") if "bob@example.com" in line]
    assert not any("Signed in" in line for line in bob_rows)
