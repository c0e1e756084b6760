"""Finding a person and reading what support needs to know about their account.

:func:`search` takes what a support agent has been given: part of an email address, the
account id, or a product user id (as Segment or SendGrid shows it). :func:`profile` gathers
the person's page: status (verified, disabled, locked out until when), second factors,
passkeys, live sessions, remembered devices, product links and recent audit rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from gateway.db import db
from gateway.identity import audit, devices, sessions, throttle
from gateway.identity.factors import Status, status
from gateway.models import AuditEvent, KnownDevice, LoginSession, ProductLink, User

RESULTS = 50
QUERY_MAX = 254


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search(text: str) -> list[User]:
    """Accounts whose email contains ``text`` (case-insensitively), whose id is ``text``, or
    linked to a product user ``text``; at most :data:`RESULTS`, by email."""
    text = text.strip()[:QUERY_MAX]
    if not text or "\x00" in text:
        return []
    linked = select(ProductLink.user_id).where(ProductLink.product_user_id == text[:64])
    query = (
        select(User)
        .where(or_(User.email.like(_like(text.lower()), escape="\\"), User.id == text[:32],
                   User.id.in_(linked)))
        .order_by(User.email)
        .limit(RESULTS)
    )
    return list(db().scalars(query))


def find(user_id: str) -> User | None:
    """The account with id ``user_id`` (random 128-bit hex: not guessable), or None."""
    if len(user_id) != 32 or not user_id.isascii() or not user_id.isalnum():
        return None
    return db().get(User, user_id)


@dataclass(frozen=True)
class Profile:
    user: User
    locked_until: datetime | None
    second_factors: Status
    recovery_codes_left: int
    sessions: list[LoginSession]
    devices: list[KnownDevice]
    links: list[ProductLink]
    events: list[AuditEvent]


def profile(user: User, events: int = 20) -> Profile:
    links = db().scalars(
        select(ProductLink).where(ProductLink.user_id == user.id).order_by(ProductLink.product)
    )
    factors = status(user)
    return Profile(
        user=user,
        locked_until=throttle.locked_until(user.email),
        second_factors=factors,
        recovery_codes_left=factors.recovery_codes_left,
        sessions=sessions.active_sessions(user.id),
        devices=devices.remembered(user.id),
        links=list(links),
        events=audit.recent_events(user.id, limit=events),
    )
