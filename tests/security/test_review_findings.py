"""Findings of the security review: one test per weakness, each failing before its fix."""

from __future__ import annotations

import time

import pyotp
from flask import Flask

from tests.conftest import PASSWORD, Actions, make_app


def _actions(app: Flask) -> Actions:
    return Actions(app, app.test_client())


def test_cwe_307_2fa_attempts_survive_a_new_password_step(database_url: str) -> None:
    """A correct password must not wipe the failed-2FA counter: otherwise whoever knows the
    password guesses TOTP codes forever, logging in again before each lockout."""
    app = make_app(database_url, LOGIN_MAX_FAILURES=3, IP_MAX_ATTEMPTS=10_000)
    actions = _actions(app)
    user = actions.create_user("victim@example.com", totp=True)
    assert user.totp_secret is not None
    statuses: list[int] = []
    for _ in range(3):
        statuses.append(actions.login("victim@example.com", PASSWORD).status_code)
        for _ in range(2):
            statuses.append(actions.login_2fa(_wrong_code(user.totp_secret)).status_code)
    assert 429 in statuses, statuses
    assert statuses[: statuses.index(429)].count(401) == 3, statuses  # locked after 3 codes


def _wrong_code(secret: str) -> str:
    """A six-digit code that is none of the three the server accepts right now."""
    totp = pyotp.TOTP(secret)
    now = int(time.time())
    valid = {totp.at(now + delta) for delta in (-30, 0, 30)}
    return next(c for c in ("000000", "111111", "222222", "333333") if c not in valid)
