"""Workspaces / accounts: the role table, invitations and several memberships."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from product_stubs.kit.db import session_factory
from product_stubs.kit.models import Container, Invitation, Membership, utcnow
from product_stubs.kit.seed import seed_users
from tests.support.product_apps import Helper

ROLES = ["owner", "admin", "member", "read-only"]
PASSWORD = "role-test-password"


def noun(app: Flask) -> str:
    return str(app.extensions["product_profile"].containers)


def setup_team(h: Helper) -> tuple[int, dict[str, FlaskClient], str]:
    """A container with one user per role plus a 'target' member; returns clients per role."""
    rows = [(f"{role}@team.example", PASSWORD, "Team Co", role) for role in ROLES]
    rows.append(("target@team.example", PASSWORD, "Team Co", "member"))
    seed_users(h.app, rows)
    clients = {}
    for role in ROLES:
        client = h.app.test_client()
        assert h.sign_in(f"{role}@team.example", PASSWORD, client).status_code == 302
        clients[role] = client
    with session_factory(h.app)() as db:
        container_id = db.scalar(select(Container.id).where(Container.name == "Team Co"))
        assert container_id is not None
    return container_id, clients, h.user("target@team.example").id


def invite(client: FlaskClient, app: Flask, cid: int, email: str, role: str = "member") -> str:
    response = client.post(
        f"/{noun(app)}/{cid}/invitations",
        data={"email": email, "role": role},
        follow_redirects=True,
    )
    assert response.status_code == 200
    match = re.search(r"/invitations/([\w-]+)", response.get_data(as_text=True))
    assert match
    return match.group(1)


ACTIONS = {
    "view": {"owner", "admin", "member", "read-only"},
    "create_item": {"owner", "admin", "member"},
    "rename": {"owner", "admin"},
    "invite": {"owner", "admin"},
    "revoke_invitation": {"owner", "admin"},
    "change_role": {"owner", "admin"},
    "remove_member": {"owner", "admin"},
    "delete": {"owner"},
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ACTIONS)
def test_role_table(h: Helper, role: str, action: str) -> None:
    cid, clients, target = setup_team(h)
    base = f"/{noun(h.app)}/{cid}"
    client = clients[role]
    if action == "view":
        response = client.get(base)
    elif action == "create_item":
        response = client.post(f"{base}/items", data={"name": "thing"})
    elif action == "rename":
        response = client.post(f"{base}/rename", data={"name": "Renamed"})
    elif action == "invite":
        response = client.post(
            f"{base}/invitations", data={"email": "x@example.com", "role": "member"}
        )
    elif action == "revoke_invitation":
        invite(clients["owner"], h.app, cid, "y@example.com")
        with session_factory(h.app)() as db:
            invitation_id = db.scalar(select(Invitation.id))
        response = client.post(f"{base}/invitations/{invitation_id}/revoke")
    elif action == "change_role":
        response = client.post(f"{base}/members/{target}/role", data={"role": "read-only"})
    elif action == "remove_member":
        response = client.post(f"{base}/members/{target}/remove")
    else:
        response = client.post(f"{base}/delete")
    expected = {200, 302} if role in ACTIONS[action] else {403}
    assert response.status_code in expected, (role, action, response.status_code)


def test_read_only_through_the_gateway_is_still_refused(h: Helper) -> None:
    cid, clients, _ = setup_team(h)
    console = "console-ro"
    assert h.link(h.user("read-only@team.example").id, console).status_code == 200
    user_id = h.user("read-only@team.example").id
    path = f"/{noun(h.app)}/{cid}/items"
    response = h.client.post(
        path, data={"name": "x"}, headers=h.assertion(user_id, console, path, "POST")
    )
    assert response.status_code == 403


def test_non_member_gets_404(h: Helper) -> None:
    cid, _, _ = setup_team(h)
    h.sign_in(*h.password_user)
    assert h.client.get(f"/{noun(h.app)}/{cid}").status_code == 404


def test_admin_cannot_touch_owner_or_grant_owner(h: Helper) -> None:
    cid, clients, target = setup_team(h)
    owner_id = h.user("owner@team.example").id
    base = f"/{noun(h.app)}/{cid}"
    admin = clients["admin"]
    assert admin.post(f"{base}/members/{owner_id}/role", data={"role": "member"}).status_code == 403
    assert admin.post(f"{base}/members/{owner_id}/remove").status_code == 403
    assert admin.post(f"{base}/members/{target}/role", data={"role": "owner"}).status_code == 403
    assert (
        admin.post(
            f"{base}/invitations", data={"email": "o@x.example", "role": "owner"}
        ).status_code
        == 403
    )


def test_last_owner_cannot_be_demoted_and_roles_change(h: Helper) -> None:
    cid, clients, target = setup_team(h)
    owner_id = h.user("owner@team.example").id
    base = f"/{noun(h.app)}/{cid}"
    owner = clients["owner"]
    assert owner.post(f"{base}/members/{owner_id}/role", data={"role": "admin"}).status_code == 409
    assert owner.post(f"{base}/members/{target}/role", data={"role": "bogus"}).status_code == 400
    assert owner.post(f"{base}/members/{target}/role", data={"role": "admin"}).status_code == 302
    page = owner.get(base).get_data(as_text=True)
    assert re.search(r"target@team.example</td><td[^>]*>admin", page)


def test_invitation_accepted_by_invited_email_only(h: Helper) -> None:
    cid, clients, _ = setup_team(h)
    token = invite(clients["owner"], h.app, cid, "Invitee@Example.com", "admin")
    wrong = h.app.test_client()
    h.sign_in(*h.password_user, client=wrong)
    assert wrong.get(f"/invitations/{token}").status_code == 200
    refused = wrong.post(f"/invitations/{token}/accept")
    assert refused.status_code == 403
    assert "another email address" in refused.get_data(as_text=True)
    invitee = h.app.test_client()
    h.sign_up("invitee@example.com", PASSWORD, invitee)
    accepted = invitee.post(f"/invitations/{token}/accept")
    assert accepted.status_code == 302
    with session_factory(h.app)() as db:
        role = db.scalar(
            select(Membership.role).where(
                Membership.container_id == cid,
                Membership.user_id == h.user("invitee@example.com").id,
            )
        )
    assert role == "admin"
    assert invitee.post(f"/invitations/{token}/accept").status_code == 404  # single use


def test_invitation_accepted_by_linked_user_through_gateway(h: Helper) -> None:
    cid, clients, _ = setup_team(h)
    token = invite(clients["owner"], h.app, cid, "linked@example.com")
    user_id, console = h.linked_user("linked@example.com")
    path = f"/invitations/{token}/accept"
    response = h.client.post(path, headers=h.assertion(user_id, console, path, "POST"))
    assert response.status_code == 302


def test_expired_and_revoked_invitations(h: Helper) -> None:
    cid, clients, _ = setup_team(h)
    token = invite(clients["owner"], h.app, cid, "late@example.com")
    with session_factory(h.app)() as db:
        invitation = db.scalars(select(Invitation)).one()
        assert invitation.expires_at - utcnow() > timedelta(days=6, hours=23)
        invitation.expires_at = utcnow() - timedelta(seconds=1)
        db.commit()
    late = h.app.test_client()
    h.sign_up("late@example.com", PASSWORD, late)
    assert late.post(f"/invitations/{token}/accept").status_code == 410
    assert late.post("/invitations/not-a-token/accept").status_code == 404


def test_user_in_several_containers(h: Helper) -> None:
    cid, clients, _ = setup_team(h)
    seed_users(h.app, [("member@team.example", PASSWORD, "Second Co", "read-only")])
    page = clients["member"].get("/").get_data(as_text=True)
    assert "Team Co</a> — member" in page and "Second Co</a> — read-only" in page
    created = clients["member"].post(f"/{noun(h.app)}", data={"name": "Third Co"})
    assert created.status_code == 302
    assert "Third Co</a> — owner" in clients["member"].get("/").get_data(as_text=True)


@pytest.mark.parametrize("name", ["", "x" * 121, " "])
def test_bad_names_are_400(h: Helper, name: str) -> None:
    h.sign_in(*h.password_user)
    assert h.client.post(f"/{noun(h.app)}", data={"name": name}).status_code == 400
