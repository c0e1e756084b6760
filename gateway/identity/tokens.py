"""Single-use, time-limited links (email verification, email change, password reset).

Signed with the app secret and a versioned salt per purpose; each token carries an id that is
spent in ``used_tokens`` on first use, so a link works once. The database's unique key decides
who spent it: of two requests racing with one link (say two POSTs of a reset form), the loser
gets :class:`TokenUsed` with its whole transaction rolled back, never a 500 or a half-done
change, whether it checked before or after the winner committed.

A spent id is useful only while its link could still be read: :func:`prune_spent` (each
process's background round, and ``flask tokens prune``) removes ids spent longer ago than the
longest link lifetime (:data:`LINK_LIFETIMES`), and rows others spent with their own
``expires_at`` (SAML assertion ids) once that has passed. Decision: lengthening a link
lifetime setting afterwards may let a link spent before the change work once more until it
expires; shorten, never lengthen, on a live system, or wait a lifetime.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import and_, delete, or_
from sqlalchemy.exc import IntegrityError

from gateway.db import db
from gateway.models import UsedToken, utcnow

#: The settings that bound how long a link can be read (``read_token``'s ``max_age``).
LINK_LIFETIMES = ("EMAIL_TOKEN_MAX_AGE", "PASSWORD_RESET_MAX_AGE")


class TokenInvalid(Exception):
    """Tampered, malformed or for another purpose."""


class TokenExpired(Exception):
    pass


class TokenUsed(Exception):
    pass


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=f"unified-login.{purpose}.v1"
    )


def make_token(purpose: str, **data: Any) -> str:
    return _serializer(purpose).dumps({**data, "jti": uuid.uuid4().hex})


def read_token(purpose: str, token: object, max_age: int | None = None) -> dict[str, Any]:
    """The token's data, checking signature, purpose and age (not yet spent); ``max_age``
    defaults to ``EMAIL_TOKEN_MAX_AGE``."""
    if not isinstance(token, str) or len(token) > 2048:
        raise TokenInvalid
    try:
        data = _serializer(purpose).loads(
            token, max_age=max_age or current_app.config["EMAIL_TOKEN_MAX_AGE"]
        )
    except SignatureExpired:
        raise TokenExpired from None
    except (BadSignature, ValueError, TypeError):
        raise TokenInvalid from None
    if not isinstance(data, dict) or not isinstance(data.get("jti"), str):
        raise TokenInvalid
    return data


def is_spent(data: dict[str, Any]) -> bool:
    """Whether the token was spent by a committed request (a page can say so early; only
    :func:`spend` decides a race)."""
    return db().get(UsedToken, data["jti"]) is not None


def spend(data: dict[str, Any]) -> None:
    """Spend the token now, in the caller's transaction, before its other writes.

    Raises TokenUsed when another request spent it first, committed or still running (the
    insert waits for it): the caller's transaction is then rolled back whole, so nothing the
    request did before is left half-done, and the caller answers "already used".
    """
    session = db()
    try:
        with session.begin_nested():
            session.add(UsedToken(token_id=data["jti"]))
    except IntegrityError:
        session.rollback()
        raise TokenUsed from None


def prune_spent() -> int:
    """Remove the spent ids nothing could present again (see the module's docstring); how
    many rows went. Commits."""
    now = utcnow()
    lifetime = max(int(current_app.config[name]) for name in LINK_LIFETIMES)
    session = db()
    removed = session.execute(delete(UsedToken).where(or_(
        UsedToken.expires_at < now,
        and_(UsedToken.expires_at.is_(None), UsedToken.used_at < now - timedelta(seconds=lifetime)),
    ))).rowcount  # type: ignore[attr-defined]
    session.commit()
    return int(removed or 0)
