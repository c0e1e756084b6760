"""Members of one organization see nothing of another's: every id in an organization URL is
128 random bits, looked up inside the asking account's own membership, and an id of another
organization (or a malformed one) is a 404 with nothing changed."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from werkzeug.test import TestResponse

from tests.organizations.conftest import People, Person

#: name -> what Ann (owner of her own organization) tries with the other one's ids.
Attempt = Callable[[Person, dict[str, str]], TestResponse]
ATTEMPTS: dict[str, Attempt] = {
    "view": lambda p, b: p.client.get(f"/organizations/{b['org']}"),
    "audit": lambda p, b: p.client.get(f"/organizations/{b['org']}/audit"),
    "invite": lambda p, b: p.invite(b["org"], "spy@example.com"),
    "revoke": lambda p, b: p.post(
        f"/organizations/{b['org']}/invitations/{b['invitation']}/revoke"),
    "revoke-via-own-org": lambda p, b: p.post(
        f"/organizations/{b['own']}/invitations/{b['invitation']}/revoke"),
    "role": lambda p, b: p.set_role(b["org"], b["member"], "member"),
    "role-via-own-org": lambda p, b: p.set_role(b["own"], b["member"], "member"),
    "remove": lambda p, b: p.remove(b["org"], b["member"]),
    "remove-via-own-org": lambda p, b: p.remove(b["own"], b["member"]),
    "see-invitation": lambda p, b: p.client.get(f"/organizations/invitations/{b['invitation']}"),
    "accept-invitation": lambda p, b: p.accept(b["invitation"]),
}


@pytest.fixture
def two(people: People) -> tuple[Person, dict[str, str]]:
    ann, zed, yan = people("ann@example.com"), people("zed@other.test"), people("yan@other.test")
    own = ann.create_organization("Ann's")
    other = zed.create_organization("Zed's secret project")
    member = people.join(other, zed, yan, "admin")
    zed.invite(other, "xavier@other.test", "owner")
    return ann, {"own": own, "org": other, "member": member,
                 "invitation": people.invitation_id(other, "xavier@other.test")}


@pytest.mark.parametrize("attempt", ATTEMPTS, ids=list(ATTEMPTS))
def test_another_organizations_ids_find_nothing_and_change_nothing(
    people: People, two: tuple[Person, dict[str, str]], attempt: str
) -> None:
    ann, ids = two
    answer = ATTEMPTS[attempt](ann, ids)
    assert answer.status_code == 404
    assert "Zed" not in answer.text
    zed, yan = people.user("zed@other.test"), people.user("yan@other.test")
    assert people.role(ids["org"], Person(people.app, ann.actions, zed.email, zed.id)) == "owner"
    assert people.role(ids["org"], Person(people.app, ann.actions, yan.email, yan.id)) == "admin"
    assert people.invitation_id(ids["org"], "xavier@other.test") == ids["invitation"]
    assert ann.actions.mails("spy@example.com") == []
    assert "Zed" not in ann.client.get("/organizations/").text


@pytest.mark.parametrize("bad", ["1", "..%2f..", "A" * 32, "0" * 31, "0" * 33, "%00"])
def test_malformed_ids_are_a_404(people: People, bad: str) -> None:
    ann = people("ann@example.com")
    org = ann.create_organization()
    for answer in (ann.client.get(f"/organizations/{bad}"),
                   ann.client.get(f"/organizations/{bad}/audit"),
                   ann.client.get(f"/organizations/invitations/{bad}"),
                   ann.set_role(org, bad, "member"), ann.remove(org, bad), ann.accept(bad)):
        # A NUL cannot even name a form field: that form is refused (400) before the lookup.
        assert answer.status_code == 404 or (bad == "%00" and answer.status_code == 400)


def test_ids_in_organization_urls_are_random_128_bit(people: People) -> None:
    ann, bob = people("ann@example.com"), people("bob@example.com")
    first, second = ann.create_organization(), ann.create_organization()
    member = people.join(first, ann, bob)
    ann.invite(first, "c@example.com")
    ids = [first, second, member, people.invitation_id(first, "c@example.com")]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == 4


def test_signed_out_visitor_is_sent_to_sign_in(people: People) -> None:
    ann = people("ann@example.com")
    org = ann.create_organization()
    stranger = people.app.test_client()
    for path in (f"/organizations/{org}", f"/organizations/{org}/audit", "/organizations/"):
        answer = stranger.get(path)
        assert answer.status_code == 302 and "/login" in answer.location
