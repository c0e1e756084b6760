"""Seeding and inspecting the running stack, and form submission over real HTTP.

For a person's own journey (sign up, log in, ...) see ``tests.support.person``.
"""

from __future__ import annotations

import re

import pyotp
import requests
from sqlalchemy import select

from gateway import db as gateway_db
from gateway.db import new_session
from gateway.identity.passwords import hash_password
from gateway.identity.totp import new_recovery_codes
from gateway.models import OutboxMessage, ProductLink, User, utcnow
from tests.support.csrf import csrf_from
from tests.support.person import browser
from tests.support.stack import Stack


def submit(session: requests.Session, url: str, form_url: str | None = None,
           **data: str) -> requests.Response:
    """GET the form page, then POST it with its CSRF token (no redirects followed)."""
    data["csrf_token"] = csrf_from(session.get(form_url or url, timeout=15).text)
    return session.post(url, data=data, allow_redirects=False, timeout=30)


def sign_in(stack: Stack, email: str, password: str) -> requests.Session:
    """A new browser, signed in (password only)."""
    session = browser()
    response = submit(session, stack.gateway_url + "/login", email=email, password=password)
    assert response.status_code == 302, response.text[:500]
    return session


def create_console_user(stack: Stack, email: str, password: str) -> str:
    """A verified Console user, written straight to the gateway database; returns its id."""
    app = stack.app("gateway")
    with app.app_context(), new_session() as session:
        user = User(email=email, password_hash=hash_password(password), email_verified_at=utcnow())
        session.add(user)
        session.commit()
        user_id = user.id
    gateway_db.engine(app).dispose()
    return user_id


def create_console_user_with_2fa(
    stack: Stack, email: str, password: str
) -> tuple[str, str, list[str]]:
    """A verified Console user with 2FA on; returns its id, TOTP key and recovery codes."""
    app = stack.app("gateway")
    with app.app_context(), new_session() as session:
        user = User(email=email, password_hash=hash_password(password),
                    email_verified_at=utcnow(), totp_secret=pyotp.random_base32(),
                    totp_enabled_at=utcnow())
        session.add(user)
        codes = new_recovery_codes(user)
        session.commit()
        found = (user.id, user.totp_secret or "", codes)
    gateway_db.engine(app).dispose()
    return found


def create_linked_product_user(stack: Stack, product: str, email: str, console_id: str) -> str:
    """A product user made through the product's SCIM API and linked to ``console_id``."""
    answer = stack.scim(product).post(
        stack.url(product) + "/scim/v2/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": email,
            "externalId": console_id,
        },
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    product_user_id = str(answer.json()["id"])
    app = stack.app("gateway")
    with app.app_context(), new_session() as session:
        session.add(ProductLink(user_id=console_id, product=product,
                                product_user_id=product_user_id, origin="created"))
        session.commit()
    gateway_db.engine(app).dispose()
    return product_user_id


def create_product_user(stack: Stack, product: str, email: str) -> str:
    """An unlinked product user (someone else's), through SCIM."""
    answer = stack.scim(product).post(
        stack.url(product) + "/scim/v2/Users",
        json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def product_email(stack: Stack, product: str, product_user_id: str) -> str:
    answer = stack.scim(product).get(
        stack.url(product) + f"/scim/v2/Users/{product_user_id}", timeout=10
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["userName"])


def console_email(stack: Stack, user_id: str) -> str:
    app = stack.app("gateway")
    with app.app_context(), new_session() as session:
        email = session.get(User, user_id).email  # type: ignore[union-attr]
    gateway_db.engine(app).dispose()
    return email


def mailed_link(stack: Stack, recipient: str, path: str) -> str:
    """The last link to ``path`` mailed to ``recipient`` (the gateway's local outbox)."""
    app = stack.app("gateway")
    with app.app_context(), new_session() as session:
        query = (
            select(OutboxMessage.body)
            .where(OutboxMessage.recipient == recipient)
            .order_by(OutboxMessage.id.desc())
        )
        bodies = list(session.scalars(query))
    gateway_db.engine(app).dispose()
    for body in bodies:
        match = re.search(r"https?://\S+?(" + re.escape(path) + r"\S*)", body)
        if match:
            return stack.gateway_url + match.group(1)
    raise AssertionError(f"no {path} link mailed to {recipient}")


def set_faults(stack: Stack, product: str, fail: list[str], delay_seconds: float = 0) -> None:
    """The product's test-only fault switch (answers 500 / sleeps on the named operations)."""
    answer = stack.scim(product).post(
        stack.url(product) + "/internal/test/faults",
        json={"fail": fail, "delay_seconds": delay_seconds},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


def grant_role(stack: Stack, user_id: str, role: str) -> None:
    """Give a Console user an operator role (as ``flask roles grant`` does)."""
    app = stack.app("gateway")
    with app.app_context(), new_session() as session:
        user = session.get(User, user_id)
        assert user is not None
        user.role = role
        session.commit()
    gateway_db.engine(app).dispose()
