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
    OutboxMessage,
    ScimToken,
    User,
)
from tests.organizations.conftest import People, Person
from tests.organizations.test_domains import verified_org
from tests.support.console import Actions
from tests.support.dns_zone import Zone

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


def test_smoke(idp: Idp) -> None:
    answer = idp.create("bob@example.com")
    print(answer.status_code, answer.text)
    assert answer.status_code == 201
