"""Organizations: creating one, mailed invitations accepted by the invited address only,
roles (owner, admin, member) and who may change them, removals, and the last owner."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from gateway.db import new_session
from gateway.models import OrganizationInvitation, User, utcnow
from tests.organizations.conftest import People


def test_creator_becomes_owner_and_sees_the_organization(people: People) -> None:
    ann = people("ann@example.com")
    org = ann.create_organization("Acme Inc")
    assert people.role(org, ann) == "owner"
    page = ann.client.get(f"/organizations/{org}")
    assert page.status_code == 200 and "Acme Inc" in page.text
    assert "Acme Inc" in ann.client.get("/organizations/").text


@pytest.mark.parametrize("name", ["", "   ", "\x00\x1b\u202e\t", "x" * 101], ids=[
    "empty", "spaces", "control-only", "too-long"])
def test_bad_organization_name_is_refused_and_nothing_is_created(
    people: People, name: str
) -> None:
    ann = people("ann@example.com")
    answer = ann.post("/organizations/", name=name)
    assert answer.status_code in (302, 400)
    assert 'data-testid="my-organizations"' not in ann.client.get("/organizations/").text


def test_invitation_is_mailed_and_accepted_by_signing_in_with_that_address(
    people: People
) -> None:
    ann = people("ann@example.com")
    org = ann.create_organization("Acme")
    assert ann.invite(org, "Bob@Example.com", "admin").status_code == 302
    [mail] = ann.actions.mails("bob@example.com")
    assert "Acme" in mail.subject
    link = ann.actions.mailed_link("bob@example.com")
    bob = people("bob@example.com")
    page = bob.client.get(link)
    assert page.status_code == 200 and "Join Acme" in page.text
    # Listed on their organizations page too (an account made after the mail finds it there).
    assert 'data-testid="invitations-to-me"' in bob.client.get("/organizations/").text
    assert bob.accept(link.rsplit("/", 1)[1]).status_code == 302
    assert people.role(org, bob) == "admin"
    # Spent: the link is gone.
    assert bob.client.get(link).status_code == 404


def test_invitation_sent_before_sign_up_is_accepted_after_confirming_the_address(
    people: People
) -> None:
    ann = people("ann@example.com")
    org = ann.create_organization("Acme")
    ann.invite(org, "new@example.com")
    link = ann.actions.mailed_link("new@example.com")
    # Signed up, not yet confirmed: cannot sign in, so cannot accept.
    newcomer = people("new@example.com", verified=False)
    assert newcomer.actions.sign_in("new@example.com").status_code != 302
    assert newcomer.client.get(link).status_code == 302  # to the sign-in page
    with people.app.app_context(), new_session() as session:
        session.execute(update(User).where(User.email == "new@example.com")
                        .values(email_verified_at=utcnow()))
        session.commit()
    assert newcomer.actions.sign_in("new@example.com").status_code == 302
    assert "Join Acme" in newcomer.client.get("/organizations/").text
    assert newcomer.accept(link.rsplit("/", 1)[1]).status_code == 302
    assert people.role(org, newcomer) == "member"


def test_invitation_is_for_its_address_only(people: People) -> None:
    ann = people("ann@example.com")
    org = ann.create_organization()
    ann.invite(org, "bob@example.com")
    invitation = people.invitation_id(org, "bob@example.com")
    eve = people("eve@example.com")
    assert eve.client.get(f"/organizations/invitations/{invitation}").status_code == 404
    assert eve.accept(invitation).status_code == 404
    assert people.role(org, eve) is None
    assert "Join" not in eve.client.get("/organizations/").text


def test_expired_invitation_is_refused(people: People) -> None:
    ann = people("ann@example.com")
    org = ann.create_organization()
    ann.invite(org, "bob@example.com")
    with people.app.app_context(), new_session() as session:
        session.execute(update(OrganizationInvitation)
                        .values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    bob = people("bob@example.com")
    answer = bob.accept(people.invitation_id(org, "bob@example.com"))
    assert answer.status_code == 302
    assert people.role(org, bob) is None
    assert "expired" in bob.client.get(answer.location).text


def test_members_cannot_invite_change_roles_remove_others_or_read_the_audit(
    people: People
) -> None:
    ann, bob, cat = people("ann@example.com"), people("bob@example.com"), people("c@example.com")
    org = ann.create_organization()
    people.join(org, ann, bob)
    cat_id = people.join(org, ann, cat)
    ann_id = people.member_id(org, ann)
    assert bob.invite(org, "x@example.com").status_code == 403
    assert bob.set_role(org, cat_id, "admin").status_code == 403
    assert bob.set_role(org, ann_id, "member").status_code == 403
    assert bob.remove(org, cat_id).status_code == 403
    assert bob.client.get(f"/organizations/{org}/audit").status_code == 403
    assert (people.role(org, ann), people.role(org, cat)) == ("owner", "member")
    assert bob.actions.mails("x@example.com") == []


def test_admin_manages_members_but_not_owners(people: People) -> None:
    ann, adm, bob = people("ann@example.com"), people("adm@example.com"), people("b@example.com")
    org = ann.create_organization()
    people.join(org, ann, adm, "admin")
    bob_id = people.join(org, ann, bob)
    ann_id = people.member_id(org, ann)
    assert adm.invite(org, "x@example.com", "owner").status_code == 403
    assert adm.set_role(org, bob_id, "owner").status_code == 403
    assert adm.set_role(org, ann_id, "member").status_code == 403
    assert adm.remove(org, ann_id).status_code == 403
    assert people.role(org, ann) == "owner" and people.role(org, bob) == "member"
    assert adm.set_role(org, bob_id, "admin").status_code == 302
    assert people.role(org, bob) == "admin"
    # Now an equal: the admin no longer acts on them.
    assert adm.remove(org, bob_id).status_code == 403
    assert ann.remove(org, bob_id).status_code == 302
    assert people.role(org, bob) is None


@pytest.mark.parametrize("action", ["demote", "remove", "leave"])
def test_last_owner_cannot_be_demoted_or_removed(people: People, action: str) -> None:
    ann, bob = people("ann@example.com"), people("bob@example.com")
    org = ann.create_organization()
    people.join(org, ann, bob, "admin")
    ann_id = people.member_id(org, ann)
    answer = (ann.set_role(org, ann_id, "admin") if action == "demote"
              else ann.remove(org, ann_id))
    assert answer.status_code == 302
    assert "at least one owner" in ann.client.get(answer.location).text
    assert people.role(org, ann) == "owner"
    # With a second owner, the first may step down.
    people.join(org, ann, people("cat@example.com"), "owner")
    assert ann.remove(org, ann_id).status_code == 302
    assert people.role(org, ann) is None


def test_member_may_leave(people: People) -> None:
    ann, bob = people("ann@example.com"), people("bob@example.com")
    org = ann.create_organization()
    bob_id = people.join(org, ann, bob)
    answer = bob.remove(org, bob_id)
    assert answer.location == "/organizations/"
    assert people.role(org, bob) is None
    assert bob.client.get(f"/organizations/{org}").status_code == 404


@pytest.mark.parametrize("role", ["superuser", "", "OWNER"])
def test_unknown_role_is_refused(people: People, role: str) -> None:
    ann = people("ann@example.com")
    org = ann.create_organization()
    assert ann.invite(org, "bob@example.com", role).status_code == 400
    assert ann.actions.mails("bob@example.com") == []


@pytest.mark.parametrize("email", ["not-an-address", "a@b", "bob@exаmple.com"], ids=[
    "no-at", "no-dot", "cyrillic"])
def test_bad_invitation_address_is_refused(people: People, email: str) -> None:
    ann = people("ann@example.com")
    org = ann.create_organization()
    answer = ann.invite(org, email)
    assert answer.status_code == 302
    assert "Enter an email address" in ann.client.get(answer.location).text
