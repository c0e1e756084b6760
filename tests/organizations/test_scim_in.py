"""SCIM in: an organization's IdP provisions and deprovisions its members at ``/scim/v2/``
with a token an owner made on the organization's SCIM page (Flask test client units; the
conformance checker and the journey through Segment are test_scim_in_conformance.py and
test_scim_in_stack.py)."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from werkzeug.test import TestResponse

from gateway.db import new_session
from gateway.models import (
    AuditEvent,
    LoginSession,
    OrganizationMember,
    ScimToken,
    User,
    utcnow,
)
from tests.organizations.conftest import People, Person
from tests.organizations.test_domains import verified_org
from tests.support.console import Actions
from tests.support.dns_zone import Zone
from tests.support.operators import signed_in_operator

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def make_token(owner: Person, org: str, name: str = "Okta") -> str:
    answer = owner.post(f"/organizations/{org}/scim/tokens", name=name)
    assert answer.status_code == 200, answer.text
    match = re.search(r'data-testid="scim-token-value">([^<]+)<', answer.text)
    assert match, answer.text
    return match.group(1)


class Idp:
    """The organization's identity provider: SCIM calls with its token."""

    def __init__(self, app: Flask, token: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def call(self, method: str, path: str, body: Any = None, **kwargs: Any) -> TestResponse:
        if body is not None:
            kwargs["data"] = body if isinstance(body, (str, bytes)) else json.dumps(body)
            kwargs.setdefault("content_type", "application/scim+json")
        return self.client.open(f"/scim/v2{path}", method=method, headers=self.headers,
                                **kwargs)

    def create(self, email: str, **extra: Any) -> TestResponse:
        return self.call("POST", "/Users", {"schemas": [USER], "userName": email, **extra})

    def patch(self, member_id: str, *operations: dict[str, Any]) -> TestResponse:
        return self.call("PATCH", f"/Users/{member_id}",
                         {"schemas": [PATCH], "Operations": list(operations)})

    def find(self, expression: str, **params: Any) -> dict[str, Any]:
        answer = self.call("GET", "/Users", query_string={"filter": expression, **params})
        assert answer.status_code == 200, answer.text
        return answer.json  # type: ignore[no-any-return]


def scim_error(answer: TestResponse, status: int, scim_type: str | None = None) -> None:
    assert answer.status_code == status, answer.text
    assert answer.mimetype == "application/scim+json"
    body = answer.json
    assert body is not None and body["schemas"] == [ERROR] and body["status"] == str(status)
    assert body["detail"]
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body


@pytest.fixture
def ann(people: People) -> Person:
    return people("ann@example.com")


@pytest.fixture
def org(people: People, zone: Zone, ann: Person) -> str:
    return verified_org(people, zone, ann)


@pytest.fixture
def idp(app: Flask, ann: Person, org: str) -> Idp:
    return Idp(app, make_token(ann, org))


def member_row(app: Flask, email: str) -> tuple[User, OrganizationMember | None]:
    with app.app_context(), new_session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        member = session.scalars(select(OrganizationMember)
                                 .where(OrganizationMember.user_id == user.id)).first()
        return user, member


def org_events(app: Flask, org: str) -> list[str]:
    with app.app_context(), new_session() as session:
        return list(session.scalars(select(AuditEvent.event)
                                    .where(AuditEvent.organization_id == org)
                                    .order_by(AuditEvent.id)))


def live_sessions(app: Flask, user_id: str) -> int:
    with app.app_context(), new_session() as session:
        return len(session.scalars(select(LoginSession).where(
            LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))).all())


# --- tokens ------------------------------------------------------------------------------------


def test_owner_makes_a_token_shown_once_kept_as_its_hash_with_last_use(
    app: Flask, ann: Person, org: str
) -> None:
    value = make_token(ann, org, "Okta production")
    assert value.startswith("scim_") and len(value) > 40
    page = ann.client.get(f"/organizations/{org}/scim").text
    assert value not in page and "Okta production" in page and "never" in page
    with app.app_context(), new_session() as session:
        row = session.scalars(select(ScimToken)).one()
        assert row.token_hash == hashlib.sha256(value.encode()).hexdigest()
        assert row.organization_id == org and row.last_used_at is None
    assert Idp(app, value).call("GET", "/Users").status_code == 200
    page = ann.client.get(f"/organizations/{org}/scim").text
    row_html = page.split(f'data-token="{row.id}"')[1].split("</tr>")[0]
    assert "never" not in row_html
    assert "organization_scim_token_created" in org_events(app, org)
    assert f"/organizations/{org}/scim" in ann.client.get(f"/organizations/{org}").text


def test_only_owners_make_or_revoke_tokens(
    app: Flask, people: People, ann: Person, org: str
) -> None:
    admin = people("adam@example.com")
    people.join(org, ann, admin, "admin")
    outsider = people("olga@elsewhere.test")
    value = make_token(ann, org)
    with app.app_context(), new_session() as session:
        token_id = session.scalars(select(ScimToken.id)).one()
    assert admin.client.get(f"/organizations/{org}/scim").status_code == 403
    assert admin.post(f"/organizations/{org}/scim/tokens", name="x").status_code == 403
    assert admin.post(f"/organizations/{org}/scim/tokens/{token_id}/revoke").status_code == 403
    assert outsider.client.get(f"/organizations/{org}/scim").status_code == 404
    assert outsider.post(f"/organizations/{org}/scim/tokens/{token_id}/revoke").status_code == 404
    assert Idp(app, value).call("GET", "/Users").status_code == 200


@pytest.mark.parametrize("header", [
    None, "Bearer", "Bearer ", "Bearer scim_not-a-token", "Basic c2NpbTpzY2lt", "scim_x",
    "Bearer " + "scim_" + "x" * 5000,
], ids=["none", "empty-bearer", "blank", "unknown", "basic", "no-scheme", "huge"])
def test_bad_tokens_are_401_in_scim_format(app: Flask, idp: Idp, header: str | None) -> None:
    client = app.test_client()
    headers = {"Authorization": header} if header is not None else {}
    for method, path in (("GET", "/Users"), ("POST", "/Users"), ("GET", "/ServiceProviderConfig"),
                         ("DELETE", "/Users/" + "a" * 32), ("GET", "/nowhere")):
        answer = client.open(f"/scim/v2{path}", method=method, headers=headers,
                             data=json.dumps({"schemas": [USER], "userName": "x@example.com"}))
        scim_error(answer, 401)
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert idp.call("GET", "/Users").json["totalResults"] == 0


def test_revoked_token_is_refused_at_once(app: Flask, ann: Person, org: str) -> None:
    value = make_token(ann, org)
    idp = Idp(app, value)
    assert idp.create("bob@example.com").status_code == 201
    with app.app_context(), new_session() as session:
        token_id = session.scalars(select(ScimToken.id)).one()
    assert ann.post(f"/organizations/{org}/scim/tokens/{token_id}/revoke").status_code == 302
    scim_error(idp.create("carl@example.com"), 401)
    scim_error(idp.call("GET", "/Users"), 401)
    assert "revoked" in ann.client.get(f"/organizations/{org}/scim").text
    assert "organization_scim_token_revoked" in org_events(app, org)


# --- create ------------------------------------------------------------------------------------


def test_post_creates_a_verified_managed_member_without_password(
    app: Flask, ann: Person, org: str, idp: Idp
) -> None:
    answer = idp.create("Bob@Example.com", externalId="okta-00u1",
                        name={"givenName": "Bob"}, displayName="Bob")
    assert answer.status_code == 201, answer.text
    body = answer.json
    assert body["userName"] == "bob@example.com" and body["active"] is True
    assert body["externalId"] == "okta-00u1"
    assert body["emails"] == [{"value": "bob@example.com", "type": "work"}]
    assert answer.headers["Location"].endswith(f"/scim/v2/Users/{body['id']}")
    user, member = member_row(app, "bob@example.com")
    assert user.is_verified and user.managed_by_id == org and not user.is_disabled
    assert member is not None and member.organization_id == org and member.role == "member"
    assert member.public_id == body["id"]
    # No password signs in (not even an empty one).
    bob = Actions(app, app.test_client())
    for password in ("", "correct horse battery staple", "!no-password"):
        assert bob.sign_in("bob@example.com", password=password).status_code != 302
    mail = ann.actions.mails("bob@example.com")[-1]
    assert "created a Unified Login account for you" in mail.subject
    assert "/forgot-password" in mail.body
    assert "organization_scim_created" in org_events(app, org)
    audit_page = ann.client.get(f"/organizations/{org}/audit").text
    assert "Account created by the organization&#39;s identity provider" in audit_page
    assert idp.call("GET", f"/Users/{body['id']}").json["userName"] == "bob@example.com"


@pytest.mark.parametrize("email", [
    "bob@elsewhere.test", "bob@sub.example.com", "bob@example.com.evil.test", "not-an-address",
])
def test_post_outside_the_verified_domains_is_refused(
    app: Flask, idp: Idp, email: str
) -> None:
    scim_error(idp.create(email), 400, "invalidValue")
    with app.app_context(), new_session() as session:
        assert session.scalars(select(User).where(User.email == email.lower())).first() is None


def test_post_at_a_domain_not_yet_verified_is_refused(
    app: Flask, people: People, zone: Zone
) -> None:
    owner = people("zed@corp.test")
    org = owner.create_organization("Corp")
    assert owner.post(f"/organizations/{org}/domains", domain="corp.test").status_code == 302
    scim_error(Idp(app, make_token(owner, org)).create("yan@corp.test"), 400, "invalidValue")


def test_an_existing_account_becomes_a_managed_member_not_a_duplicate(
    app: Flask, people: People, ann: Person, org: str, idp: Idp
) -> None:
    cleo = people("cleo@example.com")
    answer = idp.create("cleo@example.com")
    assert answer.status_code == 201, answer.text
    user, member = member_row(app, "cleo@example.com")
    assert user.id == cleo.id and user.managed_by_id == org and member is not None
    with app.app_context(), new_session() as session:
        assert len(session.scalars(select(User).where(User.email == "cleo@example.com")).all()) == 1
    mail = cleo.actions.mails("cleo@example.com")[-1]
    assert mail.subject == "Your account is now managed by Acme"
    assert cleo.client.get("/settings").status_code == 200  # her session goes on
    scim_error(idp.create("cleo@example.com"), 409, "uniqueness")
    assert "organization_scim_adopted" in org_events(app, org)


def test_an_unconfirmed_sign_up_of_the_address_gives_way(
    app: Flask, people: People, idp: Idp
) -> None:
    squatter = Actions(app, app.test_client())
    squatter.create_user("dora@example.com", verified=False)
    assert idp.create("dora@example.com").status_code == 201
    user, member = member_row(app, "dora@example.com")
    assert user.is_verified and member is not None
    assert squatter.sign_in("dora@example.com").status_code != 302


# --- read --------------------------------------------------------------------------------------


def test_filters_as_idps_send_them_and_paging(idp: Idp) -> None:
    ids = [idp.create(f"p{i}@example.com", externalId=f"ext-{i}").json["id"] for i in range(5)]
    for expression in ('userName eq "P3@EXAMPLE.COM"', 'emails[value eq "p3@example.com"]',
                       'emails.value eq "p3@example.com"', 'externalId eq "ext-3"',
                       f'id eq "{ids[3]}"', f'{USER}:userName eq "p3@example.com"'):
        found = idp.find(expression)
        assert found["totalResults"] == 1, expression
        assert [r["id"] for r in found["Resources"]] == [ids[3]], expression
    assert idp.find('userName eq "nobody@example.com"')["totalResults"] == 0
    page = idp.call("GET", "/Users", query_string={"startIndex": 2, "count": 2}).json
    assert page["totalResults"] == 5 and page["startIndex"] == 2 and page["itemsPerPage"] == 2
    assert [r["id"] for r in page["Resources"]] == ids[1:3]
    shaped = idp.call("GET", f"/Users/{ids[0]}", query_string={"attributes": "userName"}).json
    assert set(shaped) == {"schemas", "id", "userName"}
    for bad in ('userName sw "p"', 'title eq "x"', 'userName eq "a" or userName eq "b"', "((",
                'userName eq "a\u0000"' + ")" * 3000, "x" * 5000):
        scim_error(idp.call("GET", "/Users", query_string={"filter": bad}), 400)
    for params in ({"count": "many"}, {"startIndex": "1e999"}):
        scim_error(idp.call("GET", "/Users", query_string=params), 400)
    scim_error(idp.call("GET", "/Users", query_string={"filter": 'userName eq "a\x00b"'}), 400)
    # The filter's own escape: a NUL reaches the search, which finds nobody (no query carries it).
    assert idp.find(r'userName eq "a\u0000b@example.com"')["totalResults"] == 0
    assert idp.find(r'externalId eq "a\u0000b"')["totalResults"] == 0
    huge = idp.call("GET", "/Users", query_string={"startIndex": 10**30, "count": -4})
    assert huge.status_code in (200, 400)


def test_members_the_organization_does_not_manage_are_invisible(
    app: Flask, people: People, ann: Person, org: str, idp: Idp
) -> None:
    guest = people("gus@elsewhere.test")
    member_id = people.join(org, ann, guest)
    scim_error(idp.call("GET", f"/Users/{member_id}"), 404)
    assert idp.find('userName eq "gus@elsewhere.test"')["totalResults"] == 0
    assert idp.call("GET", "/Users").json["totalResults"] == 0  # ann owns it, unmanaged


def test_another_organizations_members_are_not_found(
    app: Flask, people: People, zone: Zone, ann: Person, org: str, idp: Idp
) -> None:
    bob_id = idp.create("bob@example.com").json["id"]
    other_owner = people("olga@other.test")
    other = other_owner.create_organization("Other")
    theirs = Idp(app, make_token(other_owner, other))
    scim_error(theirs.call("GET", f"/Users/{bob_id}"), 404)
    assert theirs.find('userName eq "bob@example.com"')["totalResults"] == 0
    scim_error(theirs.patch(bob_id, {"op": "replace", "path": "active", "value": False}), 404)
    scim_error(theirs.call("PUT", f"/Users/{bob_id}",
                           {"schemas": [USER], "userName": "bob@example.com", "active": False}),
               404)
    scim_error(theirs.call("DELETE", f"/Users/{bob_id}"), 404)
    user, member = member_row(app, "bob@example.com")
    assert not user.is_disabled and member is not None and user.managed_by_id == org


# --- deactivate, reactivate ----------------------------------------------------------------------


def test_deactivation_ends_every_session_at_once_and_reactivation_allows_sign_in(
    app: Flask, people: People, idp: Idp
) -> None:
    cleo = people("cleo@example.com")
    member_id = idp.create("cleo@example.com").json["id"]
    assert cleo.client.get("/settings").status_code == 200
    answer = idp.patch(member_id, {"op": "Replace", "path": "active", "value": False})
    assert answer.status_code == 200 and answer.json["active"] is False
    assert live_sessions(app, cleo.id) == 0
    page = cleo.client.get("/settings")
    assert page.status_code == 302 and "/login" in page.location
    told = cleo.client.get(page.location).text
    assert "your organization turned your account off" in told
    assert "disabled" in cleo.actions.sign_in("cleo@example.com").text
    assert idp.call("GET", f"/Users/{member_id}").json["active"] is False
    answer = idp.patch(member_id, {"op": "replace", "value": {"active": True}})
    assert answer.status_code == 200 and answer.json["active"] is True
    assert cleo.actions.sign_in("cleo@example.com").status_code == 302
    assert cleo.client.get("/settings").status_code == 200
    assert {"organization_scim_deactivated", "organization_scim_reactivated"} <= set(
        org_events(app, idp_org(app, member_id)))


def idp_org(app: Flask, member_id: str) -> str:
    with app.app_context(), new_session() as session:
        return session.scalars(select(OrganizationMember.organization_id)
                               .where(OrganizationMember.public_id == member_id)).one()


def test_put_turns_off_and_leaving_active_out_keeps_it(app: Flask, idp: Idp) -> None:
    member_id = idp.create("eve@example.com").json["id"]
    off = idp.call("PUT", f"/Users/{member_id}",
                   {"schemas": [USER], "userName": "eve@example.com", "active": False})
    assert off.status_code == 200 and off.json["active"] is False
    kept = idp.call("PUT", f"/Users/{member_id}",
                    {"schemas": [USER], "userName": "eve@example.com"})
    assert kept.status_code == 200 and kept.json["active"] is False
    assert member_row(app, "eve@example.com")[0].is_disabled


def test_the_idp_cannot_turn_off_or_remove_an_owner(app: Flask, ann: Person, idp: Idp) -> None:
    owner_id = idp.create("ann@example.com").json["id"]  # ann's own account, now managed
    scim_error(idp.patch(owner_id, {"op": "replace", "path": "active", "value": False}), 403)
    scim_error(idp.call("DELETE", f"/Users/{owner_id}"), 403)
    assert ann.client.get("/settings").status_code == 200


def test_operators_see_an_account_its_organization_turned_off(
    app: Flask, people: People, idp: Idp
) -> None:
    cleo = people("cleo@example.com")
    member_id = idp.create("cleo@example.com").json["id"]
    operator = signed_in_operator(app, "op@operators.test", "support")
    assert idp.patch(member_id, {"op": "replace", "path": "active", "value": False}).json[
        "active"] is False
    page = operator.actions.client.get(f"/admin/people/{cleo.id}").text
    assert "Turned off by its organization" in page


def test_an_operator_disable_is_not_undone_by_the_idp(app: Flask, people: People, idp: Idp) -> None:
    cleo = people("cleo@example.com")
    member_id = idp.create("cleo@example.com").json["id"]
    with app.app_context(), new_session() as session:
        user = session.get(User, cleo.id)
        assert user is not None
        user.disabled_at = utcnow()
        session.commit()
    assert idp.patch(member_id, {"op": "replace", "path": "active", "value": True}).json["active"]
    assert member_row(app, "cleo@example.com")[0].is_disabled


# --- email change ------------------------------------------------------------------------------


def test_email_change_from_the_idp_is_applied_with_notice(
    app: Flask, people: People, ann: Person, org: str, idp: Idp
) -> None:
    cleo = people("cleo@example.com")
    member_id = idp.create("cleo@example.com").json["id"]
    answer = idp.patch(member_id,
                       {"op": "replace", "path": "userName", "value": "cleo.b@example.com"},
                       {"op": "replace", "path": 'emails[type eq "work"].value',
                        "value": "cleo.b@example.com"})
    assert answer.status_code == 200, answer.text
    assert answer.json["userName"] == "cleo.b@example.com"
    user, _ = member_row(app, "cleo.b@example.com")
    assert user.id == cleo.id
    assert cleo.actions.mails("cleo@example.com")[-1].subject == "Your email address was changed"
    assert "organization_scim_email_changed" in org_events(app, org)
    put = idp.call("PUT", f"/Users/{member_id}",
                   {"schemas": [USER], "userName": "cleo@example.com", "active": True})
    assert put.status_code == 200 and put.json["userName"] == "cleo@example.com"


def test_email_change_to_a_taken_or_outside_address_changes_nothing(
    app: Flask, people: People, idp: Idp
) -> None:
    people("dan@example.com")
    member_id = idp.create("cleo@example.com").json["id"]
    scim_error(idp.patch(member_id, {"op": "replace", "path": "userName",
                                     "value": "dan@example.com"}), 409, "uniqueness")
    scim_error(idp.patch(member_id, {"op": "replace", "path": "userName",
                                     "value": "cleo@elsewhere.test"}), 400, "invalidValue")
    scim_error(idp.call("PUT", f"/Users/{member_id}", {
        "schemas": [USER], "userName": "cleo2@example.com", "active": False,
        "emails": [{"value": "other@example.com", "primary": True}]}), 400, "invalidValue")
    two = idp.patch(member_id, {"op": "add", "path": "emails",
                                "value": [{"value": "cleo3@example.com", "type": "work"}]})
    scim_error(two, 400, "invalidValue")
    user, _ = member_row(app, "cleo@example.com")
    assert not user.is_disabled
    assert idp.call("GET", f"/Users/{member_id}").json["userName"] == "cleo@example.com"


# --- delete ------------------------------------------------------------------------------------


def test_delete_turns_off_and_removes_the_member_keeping_the_account(
    app: Flask, people: People, ann: Person, org: str, idp: Idp
) -> None:
    cleo = people("cleo@example.com")
    member_id = idp.create("cleo@example.com").json["id"]
    answer = idp.call("DELETE", f"/Users/{member_id}")
    assert answer.status_code == 204 and answer.data == b""
    scim_error(idp.call("GET", f"/Users/{member_id}"), 404)
    scim_error(idp.call("DELETE", f"/Users/{member_id}"), 404)
    user, member = member_row(app, "cleo@example.com")
    assert member is None and user.managed_by_id is None and user.is_disabled
    assert cleo.client.get("/settings").status_code == 302
    events = org_events(app, org)
    assert "organization_scim_deactivated" in events and "organization_scim_removed" in events
    audit_page = ann.client.get(f"/organizations/{org}/audit").text
    assert "Removed from the organization by its identity provider" in audit_page
    # Provisioning the address again brings the same account back, turned on.
    again = idp.create("cleo@example.com")
    assert again.status_code == 201 and again.json["active"] is True
    assert member_row(app, "cleo@example.com")[0].id == cleo.id
    assert cleo.actions.sign_in("cleo@example.com").status_code == 302


# --- hostile input -----------------------------------------------------------------------------

HOSTILE_BODIES = {
    "not-json": "{not json",
    "not-utf8": b"\xff\xfe{}",
    "array": "[]",
    "string": '"x"',
    "null": "null",
    "no-schemas": json.dumps({"userName": "x@example.com"}),
    "wrong-schema": json.dumps({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                "userName": "x@example.com"}),
    "schemas-not-list": json.dumps({"schemas": USER, "userName": "x@example.com"}),
    "username-number": json.dumps({"schemas": [USER], "userName": 5}),
    "username-missing": json.dumps({"schemas": [USER]}),
    "active-object": json.dumps({"schemas": [USER], "userName": "x@example.com",
                                 "active": {"a": 1}}),
    "emails-string": json.dumps({"schemas": [USER], "userName": "x@example.com",
                                 "emails": "x@example.com"}),
    "username-not-an-email": json.dumps({"schemas": [USER], "userName": "x@example.com",
                                         "emails": [{"value": "y@example.com"}]}),
    "external-id-control": json.dumps({"schemas": [USER], "userName": "x@example.com",
                                       "externalId": "a\u0000b"}),
    "deep": "[" * 100_000 + "]" * 100_000,
    "nul-username": json.dumps({"schemas": [USER], "userName": "x\u0000@example.com"}),
}


@pytest.mark.parametrize("body", list(HOSTILE_BODIES.values()), ids=list(HOSTILE_BODIES))
def test_hostile_create_bodies_are_clear_4xx_with_nothing_created(
    app: Flask, idp: Idp, body: str | bytes
) -> None:
    answer = idp.call("POST", "/Users", body)
    assert 400 <= answer.status_code < 500, answer.text
    scim_error(answer, answer.status_code)
    assert idp.call("GET", "/Users").json["totalResults"] == 0


PATCH_BODIES = {
    "not-patchop": {"schemas": [USER], "Operations": []},
    "no-operations": {"schemas": [PATCH]},
    "operations-not-list": {"schemas": [PATCH], "Operations": {"op": "replace"}},
    "bad-op": {"schemas": [PATCH], "Operations": [{"op": "explode", "path": "active"}]},
    "bad-path": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "((",
                                                     "value": 1}]},
    "remove-username": {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "userName"}]},
    "remove-emails": {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "emails"}]},
    "active-string": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active",
                                                          "value": "perhaps"}]},
    "id-readonly": {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "id",
                                                        "value": "x"}]},
}


@pytest.mark.parametrize("body", list(PATCH_BODIES.values()), ids=list(PATCH_BODIES))
def test_hostile_patch_bodies_are_clear_4xx_with_nothing_changed(
    app: Flask, idp: Idp, body: dict[str, Any]
) -> None:
    member_id = idp.create("vic@example.com").json["id"]
    before = idp.call("GET", f"/Users/{member_id}").json
    answer = idp.call("PATCH", f"/Users/{member_id}", body)
    assert 400 <= answer.status_code < 500, answer.text
    scim_error(answer, answer.status_code)
    assert idp.call("GET", f"/Users/{member_id}").json == before


def test_huge_bodies_wrong_paths_and_methods_are_scim_errors(app: Flask, idp: Idp) -> None:
    huge = json.dumps({"schemas": [USER], "userName": "x@example.com", "pad": "x" * 3_000_000})
    scim_error(idp.call("POST", "/Users", huge), 413)
    scim_error(idp.call("GET", "/Groups"), 404)
    scim_error(idp.call("GET", "/"), 404)
    scim_error(idp.call("GET", "/Users/../../admin"), 404)
    scim_error(idp.call("GET", "/Users/" + "%00" * 10), 404)
    scim_error(idp.call("GET", "/Users/" + "f" * 32), 404)
    scim_error(idp.call("GET", "/ResourceTypes/Group"), 404)
    scim_error(idp.call("GET", "/Schemas/urn:x"), 404)
    for method, path in (("DELETE", "/Users"), ("PUT", "/Users"), ("POST", "/Users/" + "f" * 32),
                         ("POST", "/ServiceProviderConfig"), ("DELETE", "/Schemas"),
                         ("PATCH", "/ResourceTypes")):
        answer = idp.call(method, path)
        scim_error(answer, 405)
        assert answer.headers["Allow"]
    scim_error(idp.call("POST", "/.search", {"schemas": []}), 501)


def test_discovery_documents(idp: Idp) -> None:
    config = idp.call("GET", "/ServiceProviderConfig").json
    assert config["patch"]["supported"] is True and config["bulk"]["supported"] is False
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    kinds = idp.call("GET", "/ResourceTypes").json
    assert [k["endpoint"] for k in kinds["Resources"]] == ["/Users"]
    schema = idp.call("GET", f"/Schemas/{USER}").json
    assert {a["name"] for a in schema["attributes"]} == {"userName", "emails", "active"}
