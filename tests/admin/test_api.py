"""The admin API over real HTTP: an OAuth 2.0 client from a standard library (Authlib's
``OAuth2Session``, client credentials) gets a token from ``POST /oauth/token`` of a gateway on
a loopback port and calls ``/admin/api/v1/...``; scopes, the client's role, revocation and
expiry are each refused with nothing changed; the OpenAPI description matches the routes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask
from sqlalchemy import select, update

from gateway.admin import openapi
from gateway.db import new_session
from gateway.identity import api_clients
from gateway.models import ApiClient, ApiToken, AuditEvent, utcnow
from tests.support.console import Actions, csrf_token
from tests.support.operators import Operator, grant, reload, signed_in_operator
from tests.support.served import serving

API = "/admin/api/v1"


@pytest.fixture
def base_url(app: Flask) -> Iterator[str]:
    """The test's gateway app served over HTTP on a loopback port."""
    with serving(app) as server:
        yield f"http://127.0.0.1:{server.server_port}"


@pytest.fixture
def owner(app: Flask) -> Operator:
    return signed_in_operator(app, "owner@example.com", "owner")


def make_client(app: Flask, owner: Operator, role: str = "admin",
                scopes: tuple[str, ...] = api_clients.SCOPES) -> tuple[str, str]:
    """An owner creates a client on the console page; the id and the secret it shows once."""
    client = owner.actions.client
    page = client.post("/admin/clients", data={
        "csrf_token": csrf_token(client, "/admin/clients"), "name": "helpdesk",
        "role": role, "scopes": list(scopes)})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    client_id = re.search(r'data-testid="client-id">([^<]+)<', text)
    secret = re.search(r'data-testid="secret">([^<]+)<', text)
    assert client_id and secret, text[:2000]
    return client_id.group(1), secret.group(1)


def session_for(base_url: str, client_id: str, secret: str, scope: str | None = None
                ) -> OAuth2Session:
    oauth = OAuth2Session(client_id, secret, scope=scope)
    oauth.fetch_token(f"{base_url}/oauth/token", grant_type="client_credentials")
    return oauth


def test_client_credentials_from_a_standard_client_library_reads_and_acts(
    app: Flask, actions: Actions, owner: Operator, base_url: str
) -> None:
    pat = actions.create_user("pat@example.com")
    client_id, secret = make_client(app, owner)
    oauth = session_for(base_url, client_id, secret)
    assert oauth.token["token_type"].lower() == "bearer"
    assert 0 < oauth.token["expires_in"] <= 600

    found = oauth.get(f"{base_url}{API}/people", params={"q": "pat@"})
    assert found.status_code == 200
    assert [p["id"] for p in found.json()["people"]] == [pat.id]
    person = oauth.get(f"{base_url}{API}/people/{pat.id}").json()
    assert person["email"] == "pat@example.com" and person["disabled"] is False

    done = oauth.post(f"{base_url}{API}/people/{pat.id}/disable", json={"reason": "ticket 7"})
    assert done.status_code == 200, done.text
    assert reload(app, pat.id).is_disabled
    with app.app_context(), new_session() as session:
        row = session.scalars(select(AuditEvent).where(
            AuditEvent.event == "account_disabled")).one()
        client = session.get(ApiClient, client_id)
        assert client is not None and client.last_used_at is not None
    assert row.actor_id == client_id and row.user_id == pat.id and "ticket 7" in row.detail


def test_secret_is_shown_once_and_stored_hashed(
    app: Flask, owner: Operator
) -> None:
    client_id, secret = make_client(app, owner)
    again = owner.actions.client.get("/admin/clients").get_data(as_text=True)
    assert client_id in again and secret not in again
    with app.app_context(), new_session() as session:
        client = session.get(ApiClient, client_id)
        assert client is not None and secret not in client.secret_hash
        assert client.secret_hash.startswith("$argon2id$")


def test_read_scope_cannot_act(
    app: Flask, actions: Actions, owner: Operator, base_url: str
) -> None:
    pat = actions.create_user("pat@example.com")
    client_id, secret = make_client(app, owner, scopes=("people:read",))
    oauth = session_for(base_url, client_id, secret)
    answer = oauth.post(f"{base_url}{API}/people/{pat.id}/disable", json={"reason": "x"})
    assert answer.status_code == 403
    assert not reload(app, pat.id).is_disabled
    assert oauth.get(f"{base_url}{API}/audit").status_code == 403


def test_client_role_ceiling_and_its_creators_role_bound_what_it_does(
    app: Flask, actions: Actions, owner: Operator, base_url: str
) -> None:
    pat = actions.create_user("pat@example.com")
    support_id, support_secret = make_client(app, owner, role="support")
    admin_id, admin_secret = make_client(app, owner, role="admin")
    as_support = session_for(base_url, support_id, support_secret)
    assert as_support.post(f"{base_url}{API}/people/{pat.id}/disable",
                           json={"reason": "x"}).status_code == 403
    grant(app, owner.id, "support")  # the creator was demoted: so is the admin client
    as_admin = session_for(base_url, admin_id, admin_secret)
    assert as_admin.post(f"{base_url}{API}/people/{pat.id}/disable",
                         json={"reason": "x"}).status_code == 403
    assert not reload(app, pat.id).is_disabled
    # A client never acts on an owner (its ceiling is below).
    grant(app, owner.id, "owner")
    assert as_admin.post(f"{base_url}{API}/people/{owner.id}/disable",
                         json={"reason": "x"}).status_code == 403
    assert not reload(app, owner.id).is_disabled


def test_action_without_a_reason_is_400_and_changes_nothing(
    app: Flask, actions: Actions, owner: Operator, base_url: str
) -> None:
    pat = actions.create_user("pat@example.com")
    oauth = session_for(base_url, *make_client(app, owner))
    for body in ({}, {"reason": "   "}, {"reason": 7}, {"reason": "x" * 501}):
        assert oauth.post(f"{base_url}{API}/people/{pat.id}/disable",
                          json=body).status_code == 400
    assert oauth.post(f"{base_url}{API}/people/{pat.id}/explode",
                      json={"reason": "x"}).status_code == 404
    assert oauth.get(f"{base_url}{API}/people/{'0' * 32}").status_code == 404
    assert not reload(app, pat.id).is_disabled


def test_revoked_client_token_refused(
    app: Flask, actions: Actions, owner: Operator, base_url: str
) -> None:
    client_id, secret = make_client(app, owner)
    oauth = session_for(base_url, client_id, secret)
    assert oauth.get(f"{base_url}{API}/people", params={"q": "x"}).status_code == 200
    path = "/admin/clients"
    answer = owner.actions.client.post(f"{path}/{client_id}/revoke", data={
        "csrf_token": csrf_token(owner.actions.client, path)})
    assert answer.status_code == 302
    assert oauth.get(f"{base_url}{API}/people", params={"q": "x"}).status_code == 401
    refused = requests.post(f"{base_url}/oauth/token", data={"grant_type": "client_credentials"},
                            auth=(client_id, secret), timeout=5)
    assert refused.status_code in (400, 401) and refused.json()["error"] == "invalid_client"


def test_expired_token_refused(
    app: Flask, owner: Operator, base_url: str
) -> None:
    oauth = session_for(base_url, *make_client(app, owner))
    with app.app_context(), new_session() as session:
        session.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        session.commit()
    answer = oauth.get(f"{base_url}{API}/people", params={"q": "x"})
    assert answer.status_code == 401
    assert "invalid_token" in answer.headers.get("WWW-Authenticate", "")


def test_wrong_secret_is_401(app: Flask, owner: Operator, base_url: str) -> None:
    client_id, _secret = make_client(app, owner)
    for auth in ((client_id, "not-the-secret"), ("api-0000", "x"), ("", "")):
        answer = requests.post(f"{base_url}/oauth/token",
                               data={"grant_type": "client_credentials"}, auth=auth, timeout=5)
        assert answer.status_code == 401, auth
        assert answer.json()["error"] == "invalid_client"
    assert requests.get(f"{base_url}{API}/people", params={"q": "x"},
                        headers={"Authorization": "Bearer made-up"},
                        timeout=5).status_code == 401


def test_session_cookie_does_not_authenticate_the_api(owner: Operator) -> None:
    assert owner.actions.client.get(f"{API}/people", query_string={"q": "x"}).status_code == 401


def test_token_endpoint_is_rate_limited_per_client_address(database_url: str) -> None:
    from tests.support.console import make_gateway_app

    app = make_gateway_app(database_url, OAUTH_TOKEN_MAX_PER_MINUTE=2)
    client = app.test_client()
    answers = [client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=("api-x", "y")) for _ in range(3)]
    assert [a.status_code for a in answers] == [401, 401, 429]
    assert int(answers[-1].headers["Retry-After"]) > 0


def test_audit_query_and_streamed_export(
    app: Flask, actions: Actions, owner: Operator, base_url: str
) -> None:
    pat = actions.create_user("pat@example.com")
    oauth = session_for(base_url, *make_client(app, owner))
    oauth.post(f"{base_url}{API}/people/{pat.id}/disable", json={"reason": "ticket 9"})
    page = oauth.get(f"{base_url}{API}/audit", params={"event": "account_disabled"}).json()
    assert [e["target_id"] for e in page["events"]] == [pat.id]
    assert oauth.get(f"{base_url}{API}/audit", params={"since": "nope"}).status_code == 400
    export = oauth.get(f"{base_url}{API}/audit/export", params={"format": "csv"}, stream=True)
    assert export.status_code == 200 and export.headers["Content-Type"].startswith("text/csv")
    assert "account_disabled" in export.text


def test_openapi_describes_every_route_and_nothing_else(app: Flask, client: object) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(API) or rule.rule == "/oauth/token":
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods or () if m not in
                       ("HEAD", "OPTIONS")}
    described = {(path, method) for path, item in openapi.DOCUMENT["paths"].items()
                 for method in item}
    assert described == routes
    scheme = openapi.DOCUMENT["components"]["securitySchemes"]["oauth"]
    assert set(scheme["flows"]["clientCredentials"]["scopes"]) == set(api_clients.SCOPES)
    served = app.test_client().get(f"{API}/openapi.json")
    assert served.status_code == 200 and served.get_json()["openapi"] == "3.1.0"
