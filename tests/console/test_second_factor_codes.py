"""A code of the second step counts once (the security review): failed attempts survive a new
password step, and a TOTP or recovery code sent by two requests at once is accepted once.
"""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import select

from gateway.db import new_session
from gateway.identity.totp import Check, check_totp, new_recovery_codes, use_recovery_code
from gateway.models import User
from tests.support.console import PASSWORD, Actions, make_gateway_app


def _actions(app: Flask) -> Actions:
    return Actions(app, app.test_client())


@pytest.mark.cwe(307)
def test_2fa_attempts_survive_a_new_password_step(database_url: str) -> None:
    """A correct password must not wipe the failed-2FA counter: otherwise whoever knows the
    password guesses TOTP codes forever, logging in again before each lockout."""
    app = make_gateway_app(database_url, LOGIN_MAX_FAILURES=3, IP_MAX_ATTEMPTS=10_000)
    actions = _actions(app)
    user = actions.create_user("victim@example.com", totp=True)
    assert user.totp_secret is not None
    statuses: list[int] = []
    for _ in range(3):
        statuses.append(actions.sign_in("victim@example.com", PASSWORD).status_code)
        for _ in range(2):
            statuses.append(actions.enter_code(_wrong_code(user.totp_secret)).status_code)
    assert 429 in statuses, statuses
    assert statuses[: statuses.index(429)].count(401) == 3, statuses  # locked after 3 codes


def _wrong_code(secret: str) -> str:
    """A six-digit code that is none of the three the server accepts right now."""
    totp = pyotp.TOTP(secret)
    now = int(time.time())
    valid = {totp.at(now + delta) for delta in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)


def _two_copies(app: Flask, email: str) -> tuple[Any, Any, Any, Any]:
    """The same user loaded by two concurrent requests (two sessions, same starting state)."""
    first, second = new_session(), new_session()
    query = select(User).where(User.email == email)
    mine, theirs = first.scalars(query).one(), second.scalars(query).one()
    assert len(mine.recovery_codes) == len(theirs.recovery_codes)  # loaded before either acts
    return first, mine, second, theirs


@pytest.mark.cwe(362)
def test_totp_code_accepted_once_by_concurrent_requests(database_url: str) -> None:
    """Two requests racing with one intercepted code: only one may be accepted."""
    app = make_gateway_app(database_url)
    user = _actions(app).create_user("racer@example.com", totp=True)
    code = pyotp.TOTP(user.totp_secret or "").now()
    with app.app_context():
        first, mine, second, theirs = _two_copies(app, "racer@example.com")
        try:
            accepted = [check_totp(mine, code) is Check.ACCEPTED]
            first.commit()
            accepted.append(check_totp(theirs, code) is Check.ACCEPTED)
            second.commit()
        finally:
            first.close()
            second.close()
    assert accepted == [True, False]


@pytest.mark.cwe(362)
def test_recovery_code_spent_once_by_concurrent_requests(database_url: str) -> None:
    """Two requests racing with one recovery code: only one may spend it."""
    app = make_gateway_app(database_url)
    _actions(app).create_user("spender@example.com", totp=True)
    with app.app_context():
        with new_session() as session:
            owner = session.scalars(select(User).where(User.email == "spender@example.com")).one()
            code = new_recovery_codes(owner)[0]
            session.commit()
        first, mine, second, theirs = _two_copies(app, "spender@example.com")
        try:
            spent = [use_recovery_code(mine, code)]
            first.commit()
            spent.append(use_recovery_code(theirs, code))
            second.commit()
        finally:
            first.close()
            second.close()
    assert spent == [True, False]
