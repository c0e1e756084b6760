"""People in organizations, each with a client of their own: ``Person`` does what a person
does on the organization pages, in a few words."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from gateway.db import new_session
from gateway.models import OrganizationInvitation, OrganizationMember, User
from tests.support.console import Actions, csrf_token, make_gateway_app
from tests.support.dns_zone import Zone, dns_zone


@dataclass
class Person:
    app: Flask
    actions: Actions
    email: str
    id: str

    @property
    def client(self) -> Any:
        return self.actions.client

    def token(self) -> str:
        return csrf_token(self.client, "/organizations/")

    def post(self, path: str, **data: Any) -> TestResponse:
        """A POST with this person's CSRF token (under every prefix a form on the page uses)."""
        token = self.token()
        fields = {"csrf_token": token}
        for key in list(data):
            if key.endswith("-role"):
                fields[key.removesuffix("-role") + "-csrf_token"] = token
        return self.client.post(path, data={**fields, **data})

    def create_organization(self, name: str = "Acme") -> str:
        answer = self.post("/organizations/", name=name)
        assert answer.status_code == 302, answer.text
        match = re.fullmatch(r"/organizations/([0-9a-f]{32})", answer.location)
        assert match, answer.location
        return match.group(1)

    def invite(self, org: str, email: str, role: str = "member") -> TestResponse:
        return self.post(f"/organizations/{org}/invitations", email=email, role=role)

    def accept(self, invitation_id: str) -> TestResponse:
        return self.post(f"/organizations/invitations/{invitation_id}/accept")

    def set_role(self, org: str, member: str, role: str) -> TestResponse:
        return self.post(f"/organizations/{org}/members/{member}/role", **{f"{member}-role": role})

    def remove(self, org: str, member: str) -> TestResponse:
        return self.post(f"/organizations/{org}/members/{member}/remove")


class People:
    """Makes signed-in people on one app (each their own browser)."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, email: str, *, verified: bool = True) -> Person:
        actions = Actions(self.app, self.app.test_client())
        user = actions.create_user(email, verified=verified)
        if verified:
            assert actions.sign_in(email).status_code == 302
        return Person(self.app, actions, email, user.id)

    def invitation_id(self, org: str, email: str) -> str:
        with self.app.app_context(), new_session() as session:
            return session.scalars(select(OrganizationInvitation.id).where(
                OrganizationInvitation.organization_id == org,
                OrganizationInvitation.email == email)).one()

    def member_id(self, org: str, person: Person) -> str:
        with self.app.app_context(), new_session() as session:
            return session.scalars(select(OrganizationMember.public_id).where(
                OrganizationMember.organization_id == org,
                OrganizationMember.user_id == person.id)).one()

    def role(self, org: str, person: Person) -> str | None:
        with self.app.app_context(), new_session() as session:
            return session.scalars(select(OrganizationMember.role).where(
                OrganizationMember.organization_id == org,
                OrganizationMember.user_id == person.id)).one_or_none()

    def join(self, org: str, inviter: Person, person: Person, role: str = "member") -> str:
        """``inviter`` invites ``person``, who accepts; the new member's public id."""
        assert inviter.invite(org, person.email, role).status_code == 302
        assert person.accept(self.invitation_id(org, person.email)).status_code == 302
        assert self.role(org, person) == role
        return self.member_id(org, person)

    def user(self, email: str) -> User:
        with self.app.app_context(), new_session() as session:
            return session.scalars(select(User).where(User.email == email)).one()


@pytest.fixture
def zone() -> Iterator[Zone]:
    with dns_zone() as served:
        yield served


@pytest.fixture
def app(database_url: str, zone: Zone) -> Flask:
    """The gateway asking the test's DNS server for TXT records."""
    return make_gateway_app(database_url, DNS_RESOLVER=zone.address)


@pytest.fixture
def people(app: Flask) -> People:
    return People(app)
