"""Changing the password from settings (a reset by the mailed link is
``gateway.identity.recovery``): the policy, the other sessions ended, audited, a notice, one
commit."""

from __future__ import annotations

from gateway.db import db
from gateway.identity import audit, notices
from gateway.identity.passwords import hash_password, policy_problem, verify_password
from gateway.identity.sessions import revoke_all
from gateway.models import LoginSession, User, utcnow


def change(user: User, keep: LoginSession, password: str) -> str | None:
    """Set ``password`` and end every session but ``keep`` (and remembered devices); None once
    done (committed), else what is wrong with it (nothing written)."""
    problem = policy_problem(password, user.email)
    if not problem and verify_password(user.password_hash, password):
        problem = "That is your current password. Choose a new one."
    if problem:
        return problem
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    ended = revoke_all(user.id, keep=keep, reason="password")
    audit.record("password_changed", user.id, sessions_ended=ended)
    notices.password_changed(user)
    db().commit()
    return None
