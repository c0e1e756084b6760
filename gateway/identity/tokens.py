"""Single-use, time-limited links (email verification, email change, password reset).

Signed with the app secret and a versioned salt per purpose; each token carries an id that is
spent in ``used_tokens`` on first use, so a link works once.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from gateway.db import db
from gateway.models import UsedToken


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
    return db().get(UsedToken, data["jti"]) is not None


def spend(data: dict[str, Any]) -> None:
    """Mark the token used in the current transaction; raises TokenUsed if it already was."""
    if is_spent(data):
        raise TokenUsed
    db().add(UsedToken(token_id=data["jti"]))
