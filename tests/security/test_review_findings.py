"""Findings of the security review: one test per weakness, each failing before its fix."""

from __future__ import annotations

import time
from typing import Any

import pyotp
from flask import Flask
from sqlalchemy import select

from gateway.db import new_session
from gateway.identity import audit
from gateway.identity import signup as signups
from gateway.identity.totp import Check, check_totp, new_recovery_codes, use_recovery_code
from gateway.models import User
from tests.support.console import PASSWORD, Actions, make_gateway_app


def _actions(app: Flask) -> Actions:
    return Actions(app, app.test_client())


def test_cwe_307_2fa_attempts_survive_a_new_password_step(database_url: str) -> None:
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


def test_cwe_362_totp_code_accepted_once_by_concurrent_requests(database_url: str) -> None:
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


def test_cwe_362_recovery_code_spent_once_by_concurrent_requests(database_url: str) -> None:
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


def test_cwe_208_signup_costs_the_same_for_a_taken_email(
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


def test_cwe_223_anonymous_login_hints_cannot_flush_a_users_activity(database_url: str) -> None:
    """``/login?login_hint=<victim>&next=/segment/`` is public and wrote one audit row per GET
    on the victim's account: 50 GETs pushed every real event (a sign-in, failed attempts) off
    the victim's Activity page, hiding an intruder."""
    app = make_gateway_app(database_url)
    actions = _actions(app)
    user = actions.create_user("watched@example.com")
    assert actions.sign_in("watched@example.com", PASSWORD).status_code == 302
    anonymous = app.test_client()
    for _ in range(60):
        hint = "/login?login_hint=watched@example.com&next=/segment/"
        assert anonymous.get(hint).status_code == 200
    with app.test_request_context():
        events = [event.event for event in audit.recent_events(user.id)]
    assert "login" in events
