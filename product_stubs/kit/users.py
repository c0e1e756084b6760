"""User operations shared by sign-up, SCIM, linking and the demo seed."""

from __future__ import annotations

import re
import unicodedata

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from product_stubs.kit.models import (
    AuditEntry,
    Container,
    Membership,
    ProductSession,
    User,
    utcnow,
)
from product_stubs.kit.passwords import Passwords

MAX_EMAIL_LENGTH = 254
#: Plain ASCII address with one "@" and a dotted domain (IDNs in their xn-- form), the same
#: rule the gateway applies, so a product email and a Console email compare equal.
_EMAIL = re.compile(r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)+$")


class InvalidEmail(ValueError):
    pass


def normalise_email(value: object) -> str:
    """NFKC-normalise, strip and lowercase an email; raise :class:`InvalidEmail` if unusable.

    NFKC folds full-width look-alikes onto the address they imitate; non-ASCII (confusable
    scripts, zero-width and control characters) is refused rather than becoming a second user.
    """
    if not isinstance(value, str) or len(value) > 4 * MAX_EMAIL_LENGTH:
        raise InvalidEmail("email must be a string")
    email = unicodedata.normalize("NFKC", value).strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not email.isascii() or not _EMAIL.match(email):
        raise InvalidEmail("not a valid email address")
    return email


def passwords() -> Passwords:
    hasher: Passwords = current_app.extensions["product_passwords"]
    return hasher


def user_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(func.lower(User.email) == email.lower()))


def create_user_with_container(
    db: Session,
    email: str,
    *,
    password: str | None,
    container_name: str,
    created_by_console: bool = False,
    external_id: str | None = None,
) -> User:
    """Add a user who owns a new free-plan workspace/account (flushes; caller commits)."""
    user = User(
        email=email,
        password_hash=passwords().hash(password) if password is not None else None,
        created_by_console=created_by_console,
        external_id=external_id,
    )
    container = Container(name=container_name[:120], plan="free")
    db.add_all([user, container])
    db.flush()
    db.add(Membership(container_id=container.id, user_id=user.id, role="owner"))
    db.flush()
    return user


def touch(user: User) -> None:
    """Record a SCIM-visible change (lastModified and the ETag version)."""
    user.updated_at = utcnow()
    user.version = (user.version or 0) + 1


def end_sessions(db: Session, user_id: str) -> None:
    """End every product session of a user (linking, deactivation, deletion)."""
    db.execute(
        update(ProductSession)
        .where(ProductSession.user_id == user_id, ProductSession.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def audit(db: Session, user_id: str | None, message: str) -> None:
    db.add(AuditEntry(user_id=user_id, message=message))


def _stamp() -> str:
    return utcnow().strftime("%Y-%m-%d %H:%M UTC")


def link(db: Session, user: User, console_user_id: str, linked_by_email: str) -> None:
    """Link ``user`` to a Console user: disable the product password, end its sessions."""
    user.external_id = console_user_id
    user.password_hash = None
    touch(user)
    end_sessions(db, user.id)
    audit(db, user.id, f"linked to unified login by {linked_by_email} at {_stamp()}")


def record_console_creation(db: Session, user: User) -> None:
    """Audit a user created from the Console (SCIM POST naming the Console user)."""
    audit(db, user.id, f"created from unified login by {user.email} at {_stamp()}")
