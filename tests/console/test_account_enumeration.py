"""Nobody learns whether an address has an account: sign-up and resend answer alike and do
the same work (SQL statements, hashes, mails) for every kind of address. Timing equality is
tested as equal work, never by wall clock (issue 10's attack run; the security review).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import event, update

from gateway import db as gateway_db
from gateway.db import new_session
from gateway.identity import signup as signups
from gateway.models import User, utcnow
from tests.support.console import Actions, make_gateway_app, sign_up_in_a_new_browser
from tests.support.csrf import csrf_token

VICTIM_PASSWORD = "victim chose this passphrase"


def _token(actions: Actions) -> str:
    """A CSRF token of this browser without visiting /login/2fa (which may redirect)."""
    return csrf_token(actions.client, "/signup")


@contextmanager
def counted(app: Flask) -> Iterator[dict[str, Any]]:
    """Count SQL statements (by kind), password hashes and mails while inside."""
    seen: dict[str, Any] = {"sql": [], "hashes": 0}
    engine = gateway_db.engine(app)

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen["sql"].append(statement.split(None, 1)[0].upper())

    real_hash = signups.hash_password

    def hashing(password: str) -> str:
        seen["hashes"] += 1
        return real_hash(password)

    event.listen(engine, "before_cursor_execute", on_execute)
    signups.hash_password = hashing  # type: ignore[assignment]
    try:
        yield seen
    finally:
        signups.hash_password = real_hash  # type: ignore[assignment]
        event.remove(engine, "before_cursor_execute", on_execute)


@pytest.mark.cwe(208)
def test_resend_does_the_same_work_for_every_address(actions: Actions, app: Flask) -> None:
    actions.create_user("verified@example.com")
    actions.create_user("pending@example.com", verified=False)
    actions.create_user("expired@example.com", verified=False)
    with app.app_context(), new_session() as session:
        session.execute(
            update(User).where(User.email == "expired@example.com")
            .values(created_at=utcnow() - timedelta(hours=25))
        )
        session.commit()
    work = {}
    warm_up = {"email": "warm-up@example.com", "csrf_token": _token(actions)}
    assert actions.client.post("/verify-email/resend", data=warm_up).status_code == 200
    for email in ("nobody@example.com", "verified@example.com", "pending@example.com",
                  "expired@example.com"):
        token = _token(actions)
        with counted(app) as seen:
            response = actions.client.post(
                "/verify-email/resend", data={"email": email, "csrf_token": token}
            )
        assert response.status_code == 200
        work[email] = (seen["sql"], len(actions.mails(email)))
    assert len(set(map(repr, work.values()))) == 1, work
    assert work["pending@example.com"][1] == 1


@pytest.mark.cwe(208)
def test_signup_does_the_same_work_for_every_address(actions: Actions, app: Flask) -> None:
    actions.create_user("verified@example.com")
    actions.create_user("pending@example.com", verified=False)
    pages, work = set(), {}
    for email in ("new@example.com", "verified@example.com", "pending@example.com"):
        with counted(app) as seen:
            pages.add(sign_up_in_a_new_browser(app, email, VICTIM_PASSWORD))
        work[email] = (seen["hashes"], len(actions.mails(email)))
    assert len(pages) == 1
    assert set(work.values()) == {(1, 1)}, work


def _actions(app: Flask) -> Actions:
    return Actions(app, app.test_client())


@pytest.mark.cwe(208)
def test_signup_costs_the_same_for_a_taken_email(
    database_url: str, monkeypatch: Any
) -> None:
    """Sign-up answers alike for new and taken addresses; its timing must too. A taken address
    skipped the password hash (tens of ms with argon2id), which told who has an account."""
    app = make_gateway_app(database_url)
    actions = _actions(app)
    actions.create_user("taken@example.com")
    calls: list[str] = []
    real = signups.hash_password

    def counting(password: str) -> str:
        calls.append(password)
        return real(password)

    monkeypatch.setattr(signups, "hash_password", counting)

    def hashes_for(email: str) -> int:
        calls.clear()
        page = actions.post("/signup", email=email, password="a fresh passphrase 42")
        assert page.status_code == 200
        return len(calls)

    assert hashes_for("taken@example.com") == hashes_for("new@example.com") == 1
