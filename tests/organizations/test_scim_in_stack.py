"""SCIM in on the real stack (gateway, Segment and SendGrid as processes, the domain verified
over the test's DNS server): the organization's IdP turns a member off and Segment refuses
them on their very next request (the built-in proxy and forward-auth alike); turned on
again, they are back; an email change from the IdP reaches every linked product, or, when a
product refuses it or is down, changes nothing anywhere."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests

from tests.support import people
from tests.support.dns_zone import Zone, dns_zone
from tests.support.linked_person import PASSWORD, Person, make_person, unique_email
from tests.support.person import browser
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.e2e

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
API = {"Accept": "application/json"}


@pytest.fixture(scope="module")
def zone() -> Iterator[Zone]:
    with dns_zone() as served:
        yield served


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, zone: Zone) -> Iterator[Stack]:
    with running_stack(str(tmp_path_factory.mktemp("stack")), DNS_RESOLVER=zone.address,
                       MAIL_PER_HOUR="100", FORWARD_AUTH_ALLOW="127.0.0.1/32") as running:
        yield running


def _page_form(session: requests.Session, url: str, action: str,
               **data: str) -> requests.Response:
    return people.submit(session, action, form_url=url, **data)


@pytest.fixture(scope="module")
def idp(stack: Stack, zone: Zone) -> requests.Session:
    """An organization that verified example.com, and a client with its SCIM token, made
    by its owner on the organization's pages."""
    base = stack.gateway_url
    owner_email = unique_email("owner").replace("@example.com", "@owner.test")
    people.create_console_user(stack, owner_email, PASSWORD)
    owner = people.sign_in(stack, owner_email, PASSWORD)
    created = people.submit(owner, base + "/organizations/", name="Acme")
    assert created.status_code == 302, created.text[:500]
    org = created.headers["Location"].rstrip("/").rsplit("/", 1)[1]
    page = base + f"/organizations/{org}"
    assert _page_form(owner, page, page + "/domains", domain="example.com").status_code == 302
    text = owner.get(page, timeout=15).text
    value = re.search(r'data-testid="txt-value">([^<]+)<', text)
    domain_id = re.search(r"/domains/([0-9a-f]{32})/verify", text)
    assert value and domain_id
    zone.txt["_unified-login-challenge.example.com"] = [value.group(1)]
    verified = _page_form(owner, page, page + f"/domains/{domain_id.group(1)}/verify")
    assert verified.status_code == 302
    made = _page_form(owner, page + "/scim", page + "/scim/tokens", name="Okta")
    token = re.search(r'data-testid="scim-token-value">([^<]+)<', made.text)
    assert made.status_code == 200 and token, made.text[:500]
    client = browser()
    client.headers["Authorization"] = f"Bearer {token.group(1)}"
    client.headers["Content-Type"] = "application/scim+json"
    return client


def edge_asks(stack: Stack, person: Person) -> int:
    """What forward-auth answers an edge asking for this person's next Segment request."""
    return person.session.get(stack.gateway_url + "/auth/forward", timeout=15, headers={
        "X-Forwarded-Method": "GET", "X-Forwarded-Proto": "http",
        "X-Forwarded-Host": "edge.test", "X-Forwarded-Uri": "/segment/", **API,
    }).status_code


def provision(stack: Stack, idp: requests.Session, email: str) -> str:
    answer = idp.post(stack.gateway_url + "/scim/v2/Users",
                      json={"schemas": [USER], "userName": email}, timeout=15)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def patch(stack: Stack, idp: requests.Session, member_id: str,
          *operations: dict[str, object]) -> requests.Response:
    return idp.patch(stack.gateway_url + f"/scim/v2/Users/{member_id}",
                     json={"schemas": [PATCH], "Operations": list(operations)}, timeout=30)


@pytest.fixture
def member(stack: Stack, idp: requests.Session) -> tuple[Person, str]:
    """Someone at example.com, signed in, linked to a user in each product, whom the IdP
    provisioned (their existing account became a managed member)."""
    person = make_person(stack, "member")
    return person, provision(stack, idp, person.email)


def test_a_deprovisioned_member_is_refused_by_segment_on_the_next_request(
    stack: Stack, idp: requests.Session, member: tuple[Person, str]
) -> None:
    person, member_id = member
    segment = stack.gateway_url + "/segment/"
    assert person.session.get(segment, headers=API, allow_redirects=False,
                              timeout=15).status_code == 200
    assert edge_asks(stack, person) == 200
    answer = patch(stack, idp, member_id, {"op": "replace", "path": "active", "value": False})
    assert answer.status_code == 200 and answer.json()["active"] is False
    refused = person.session.get(segment, headers=API, allow_redirects=False, timeout=15)
    assert refused.status_code == 401
    assert edge_asks(stack, person) == 401  # nginx, Traefik and Caddy refuse it too
    page = person.session.get(segment, allow_redirects=False, timeout=15,
                              headers={"Accept": "text/html"})
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    assert person.session.get(stack.gateway_url + "/sendgrid/", headers=API,
                              allow_redirects=False, timeout=15).status_code == 401
    again = people.submit(browser(), stack.gateway_url + "/login", email=person.email,
                          password=PASSWORD)
    assert again.status_code != 302 and "disabled" in again.text
    # Turned on again by the IdP: signs in, and Segment answers.
    answer = patch(stack, idp, member_id, {"op": "replace", "path": "active", "value": True})
    assert answer.status_code == 200 and answer.json()["active"] is True
    back = people.sign_in(stack, person.email, PASSWORD)
    assert back.get(segment, headers=API, allow_redirects=False, timeout=15).status_code == 200


def test_an_email_change_from_the_idp_reaches_every_product(
    stack: Stack, idp: requests.Session, member: tuple[Person, str]
) -> None:
    person, member_id = member
    new = unique_email("renamed")
    answer = patch(stack, idp, member_id, {"op": "replace", "path": "userName", "value": new})
    assert answer.status_code == 200, answer.text
    assert answer.json()["userName"] == new
    assert person.emails() == {"console": new, "segment": new, "sendgrid": new}


def test_an_email_change_a_product_refuses_changes_nothing(
    stack: Stack, idp: requests.Session, member: tuple[Person, str]
) -> None:
    person, member_id = member
    taken = unique_email("taken")
    people.create_product_user(stack, "sendgrid", taken)  # someone else's, in SendGrid only
    answer = patch(stack, idp, member_id, {"op": "replace", "path": "userName", "value": taken})
    assert answer.status_code == 409 and answer.json()["scimType"] == "uniqueness"
    assert answer.json()["detail"] == "This email address is already in use."
    old = person.email
    assert person.emails() == {"console": old, "segment": old, "sendgrid": old}


def test_an_email_change_with_a_product_down_changes_nothing_and_asks_to_retry(
    stack: Stack, idp: requests.Session, member: tuple[Person, str]
) -> None:
    person, member_id = member
    people.set_faults(stack, "sendgrid", ["scim_patch"])  # Segment changes first, then this
    try:
        answer = patch(stack, idp, member_id,
                       {"op": "replace", "path": "userName", "value": unique_email("retry")})
    finally:
        people.set_faults(stack, "sendgrid", [])
    assert answer.status_code == 503 and answer.headers["Retry-After"]
    assert answer.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    old = person.email
    assert person.emails() == {"console": old, "segment": old, "sendgrid": old}
    got = idp.get(stack.gateway_url + f"/scim/v2/Users/{member_id}", timeout=15).json()
    assert got["userName"] == old and got["active"] is True
