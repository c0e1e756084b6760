"""CWE-352 (cross-site request forgery): every state-changing route of the gateway.

The table is the app's own ``url_map``: every POST rule (the proxy and forward-auth answer in
front of Flask and have none: the proxy forwards bodies untouched, products protect their own
forms). A new route without CSRF
protection therefore fails here without anyone adding a line.
"""

from __future__ import annotations

import re
import tempfile

import pytest
from flask import Flask

from gateway import create_app
from gateway import db as gateway_db
from tests.support.console import Actions
from tests.support.csrf import csrf_token
from tests.support.snapshots import assert_no_trace, gateway_snapshot

_ARGUMENTS = {"name": "segment", "public_id": "0123456789abcdef0123456789abcdef"}


def _post_routes() -> list[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as keys:
        app = create_app({"APP_ENV": "test", "DATABASE_URL": "sqlite://",
                          "SECRET_KEY": "collection-only-" + "x" * 32,
                          "ASSERTION_KEY_DIR": keys})
        routes = []
        for rule in app.url_map.iter_rules():
            if "POST" not in (rule.methods or ()):
                continue
            path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: _ARGUMENTS.get(m.group(1), "x"),
                          rule.rule)
            routes.append((rule.endpoint, path))
        gateway_db.engine(app).dispose()
    return sorted(routes)


ROUTES = _post_routes()


def test_the_table_is_not_empty() -> None:
    endpoints = {endpoint for endpoint, _ in ROUTES}
    assert {"auth.login", "auth.logout", "settings.change_password", "plan.upgrade",
            "linking.link_existing"} <= endpoints


@pytest.mark.parametrize(("endpoint", "path"), ROUTES, ids=[f"CWE-352-{e}" for e, _ in ROUTES])
def test_post_without_or_with_a_foreign_csrf_token_is_400(
    app: Flask, actions: Actions, endpoint: str, path: str
) -> None:
    actions.create_user()
    actions.sign_in()
    attacker = app.test_client()
    foreign = csrf_token(attacker, "/login")  # valid, but for another browser session
    before = gateway_snapshot(app)
    form = {"email": "user@example.com", "password": "another long password 123", "code": "1",
            "next": "/", "token": "x", "new_email": "new@example.com"}
    # The admin API and SCIM in take no cookie at all (a bearer token: from /oauth/token, or
    # an organization's SCIM token): a cross-site request carrying the browser's session gets
    # 401 and changes nothing.
    # The SAML ACS takes no CSRF token either (the IdP posts it and cannot know one): an
    # answer counts only for the request this browser's session is waiting on; for a
    # connection that does not exist it is a 404.
    expected = (401 if endpoint.startswith(("admin_api.", "scim."))
                else 404 if endpoint == "sso_saml.acs" else 400)
    for data in (form, form | {"csrf_token": foreign}, form | {"csrf_token": ""},
                 form | {"csrf_token": "A" * 200}):
        response = actions.client.post(path, data=data, headers={"Referer": "https://evil.test/"})
        assert response.status_code == expected, (endpoint, response.status_code)
        assert_no_trace(response.get_data(as_text=True))
    assert gateway_snapshot(app) == before
    assert actions.client.get("/settings").status_code == 200  # still signed in
