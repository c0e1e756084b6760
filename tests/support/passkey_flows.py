"""Passkey ceremonies over the Flask test client, with the software authenticator.

The gateway is built with ``PUBLIC_URL = ORIGIN`` (a domain: an RP id cannot be an IP address).
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from gateway.db import new_session
from gateway.models import AuditEvent, LoginSession, PasskeyCredential, User
from tests.support.authenticator import SoftAuthenticator
from tests.support.console import Actions, make_gateway_app
from tests.support.csrf import csrf_token

ORIGIN = "http://localhost:5000"
RP_ID = "localhost"


def passkey_app(database_url: str, **overrides: Any) -> Flask:
    return make_gateway_app(database_url, **({"PUBLIC_URL": ORIGIN} | overrides))


def options(client: FlaskClient, purpose: str, page: str = "/login") -> dict[str, Any]:
    """What webauthn.js fetches: the options, with the page's CSRF token in a header."""
    response = client.post(
        f"/passkeys/options/{purpose}", headers={"X-CSRFToken": csrf_token(client, page)}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    data: dict[str, Any] = response.get_json()
    return data


def submit(
    client: FlaskClient, path: str, credential: dict[str, Any] | str, page: str, **extra: str
) -> TestResponse:
    """What webauthn.js does after the ceremony: post the page's form with the credential."""
    raw = credential if isinstance(credential, str) else json.dumps(credential)
    data = {"csrf_token": csrf_token(client, page), "credential": raw, **extra}
    return client.post(path, data=data)


def register(
    actions: Actions, authenticator: SoftAuthenticator, name: str = "Phone"
) -> list[str]:
    """Add a passkey from settings (the session must be fresh: just signed in or re-authed).
    Returns the recovery codes shown when it turned 2FA on (none when 2FA already was)."""
    client = actions.client
    created = authenticator.create(options(client, "register", "/settings/passkeys"))
    response = submit(client, "/settings/passkeys", created, "/settings/passkeys", name=name)
    page = response.get_data(as_text=True)
    assert response.status_code in (200, 302), page
    return shown_codes(page) if response.status_code == 200 else []


def shown_codes(page: str) -> list[str]:
    """The recovery codes listed on a "Save your recovery codes" page."""
    assert "Save your recovery codes" in page, page
    return re.findall(r"<li><code>([0-9a-f-]+)</code></li>", page)


def passwordless(
    client: FlaskClient, authenticator: SoftAuthenticator, **overrides: Any
) -> TestResponse:
    credential = authenticator.get(options(client, "login"), **overrides)
    return submit(client, "/login/passkey", credential, "/login")


def signed_in(client: FlaskClient) -> bool:
    return client.get("/settings").status_code == 200


def sessions_of(app: Flask, email: str) -> list[LoginSession]:
    with app.app_context(), new_session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        query = select(LoginSession).where(LoginSession.user_id == user.id)
        return list(session.scalars(query.order_by(LoginSession.created_at)))


def live_methods(app: Flask, email: str) -> list[str]:
    """auth_methods of the user's sessions still live, oldest first."""
    return [s.auth_methods for s in sessions_of(app, email) if s.revoked_at is None]


def events(app: Flask, name: str) -> list[AuditEvent]:
    with app.app_context(), new_session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def stored_passkeys(app: Flask) -> list[PasskeyCredential]:
    with app.app_context(), new_session() as session:
        return list(session.scalars(select(PasskeyCredential).order_by(PasskeyCredential.id)))
