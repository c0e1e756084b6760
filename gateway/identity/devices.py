"""Known devices: the browsers a person signed in from, and "Remember this device".

A browser carries the ``DEVICE_COOKIE_NAME`` cookie (HttpOnly, SameSite=Lax, Secure like the
session cookie) holding one random token per account that signed in from it (a shared
computer keeps each person's token). Only the SHA-256 of a token is stored, in
``known_devices``, bound to one user. A device seen for the first time makes the sign-in send a
notice (``gateway.identity.notices``); a device the person asked to remember skips the second
factor, never the password, until ``remembered_until`` (``REMEMBER_DEVICE_SECONDS``, 30 days).
Revoking it in settings, and every credential change that calls
:func:`gateway.identity.sessions.revoke_all` (password change or reset, 2FA change, sign out
everywhere), clears ``remembered_until``: the device stays known, it no longer skips anything.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app, request
from sqlalchemy import select, update
from werkzeug.wrappers import Response

from gateway.db import db
from gateway.identity import audit
from gateway.models import KnownDevice, User, utcnow
from gateway.web.client import user_agent
from gateway.web.user_agents import device_name

#: Tokens kept in one browser's cookie (one per account signed in from it), newest last.
MAX_TOKENS = 5
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,100}$")


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def cookie_name() -> str:
    return str(current_app.config["DEVICE_COOKIE_NAME"])


def _cookie_tokens() -> list[str]:
    """The well-formed tokens of this browser's device cookie (anything else is ignored)."""
    raw = request.cookies.get(cookie_name(), "")
    tokens = [t for t in raw[:1024].split(".") if _TOKEN.match(t)]
    return tokens[-MAX_TOKENS:]


def _tokens_by_digest() -> dict[str, str]:
    return {_digest(t): t for t in _cookie_tokens()}


def this_device(user: User) -> KnownDevice | None:
    """The device row of ``user`` this browser proves, or None."""
    digests = list(_tokens_by_digest())
    if not digests:
        return None
    query = select(KnownDevice).where(
        KnownDevice.user_id == user.id, KnownDevice.token_hash.in_(digests)
    )
    return db().scalars(query).first()


def is_remembered(device: KnownDevice | None) -> bool:
    return (
        device is not None
        and device.remembered_until is not None
        and device.remembered_until > utcnow()
    )


def remembered_device(user: User) -> KnownDevice | None:
    """This browser, when ``user`` asked it to be remembered and that is still in force."""
    device = this_device(user)
    return device if is_remembered(device) else None


def note_sign_in(user: User, response: Response, *, remember: bool) -> tuple[KnownDevice, bool]:
    """Record a completed sign-in from this browser; returns the device and whether it was
    seen before. ``remember`` (the person ticked the box after a second factor) makes it skip
    the second factor for ``REMEMBER_DEVICE_SECONDS``. Sets the cookie on ``response``."""
    now = utcnow()
    device = this_device(user)
    seen_before = device is not None
    if device is None:
        token = secrets.token_urlsafe(32)
        device = KnownDevice(token_hash=_digest(token), user_id=user.id)
        db().add(device)
        db().flush()  # its id, for has_other_devices
        _set_cookie(response, [*_cookie_tokens(), token])
    device.name = device_name(user_agent())[:120]
    device.last_used_at = now
    if remember:
        seconds = current_app.config["REMEMBER_DEVICE_SECONDS"]
        device.remembered_until = now + timedelta(seconds=seconds)
    return device, seen_before


def has_other_devices(user: User, device: KnownDevice) -> bool:
    """Did ``user`` sign in from any other device before (the very first one is no news)?"""
    query = select(KnownDevice.id).where(
        KnownDevice.user_id == user.id, KnownDevice.id != device.id
    )
    return db().scalars(query.limit(1)).first() is not None


def _set_cookie(response: Response, tokens: list[str]) -> None:
    config = current_app.config
    response.set_cookie(
        cookie_name(),
        ".".join(tokens[-MAX_TOKENS:]),
        max_age=config["DEVICE_COOKIE_MAX_AGE"],
        httponly=True,
        secure=bool(config["SESSION_COOKIE_SECURE"]),
        samesite="Lax",
        path="/",
    )


def remembered(user_id: str) -> list[KnownDevice]:
    """The devices of ``user_id`` that skip the second factor right now, latest used first."""
    query = (
        select(KnownDevice)
        .where(KnownDevice.user_id == user_id, KnownDevice.remembered_until > utcnow())
        .order_by(KnownDevice.last_used_at.desc())
    )
    return list(db().scalars(query))


def forget(user_id: str, public_id: str) -> bool:
    """Stop one remembered device of ``user_id`` from skipping the second factor."""
    result = db().execute(
        update(KnownDevice)
        .where(
            KnownDevice.user_id == user_id,
            KnownDevice.public_id == public_id[:32],
            KnownDevice.remembered_until.is_not(None),
        )
        .values(remembered_until=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def forget_all(user_id: str) -> int:
    """Every remembered device of ``user_id`` asks for the second factor again."""
    result = db().execute(
        update(KnownDevice)
        .where(KnownDevice.user_id == user_id, KnownDevice.remembered_until.is_not(None))
        .values(remembered_until=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def forget_one(user_id: str, public_id: str) -> bool:
    """The settings page's "Forget": :func:`forget`, audited and committed."""
    if not forget(user_id, public_id):
        return False
    audit.record("device_forgotten", user_id, device=public_id)
    db().commit()
    return True


def forget_every(user_id: str) -> int:
    """The settings page's "Forget all devices": :func:`forget_all`, audited and committed."""
    count = forget_all(user_id)
    audit.record("device_forgotten", user_id, count=count)
    db().commit()
    return count
