"""Bearer tokens an organization's IdP uses for SCIM in (``/scim/v2/``), made by owners.

A token belongs to one organization and reaches nothing else: every SCIM lookup starts from
it. The value (``scim_`` and 256 random bits) is shown once; only its SHA-256 is kept, and a
presented token is found by the hash of what was presented, so no stored secret is compared
byte by byte (nothing to time) and a database leak hands out no token. Owners revoke tokens;
a revoked token is refused at once. ``last_used_at`` is written at most once a minute, so a
busy IdP does not write on every request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from gateway.db import db, own_transaction
from gateway.identity import audit
from gateway.identity.mail import mail_text
from gateway.models import ScimToken, User, utcnow
from gateway.organizations.errors import NotFound, Refused
from gateway.organizations.membership import require_owner, well_formed

PREFIX = "scim_"
NAME_MAX = 100
MAX_TOKENS = 10
_TOUCH_INTERVAL = timedelta(seconds=60)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def of(organization_id: str) -> list[ScimToken]:
    """The organization's tokens, newest first (revoked ones too: the page says when)."""
    query = (select(ScimToken).where(ScimToken.organization_id == organization_id)
             .order_by(ScimToken.created_at.desc(), ScimToken.id))
    return list(db().scalars(query))


def create(actor: User, organization_id: object, name: object) -> tuple[ScimToken, str]:
    """A new token of the organization (owners only) and its value, to show once; commits."""
    org_id = require_owner(actor, organization_id).organization_id
    label = mail_text(name) if isinstance(name, str) else ""
    if not label:
        raise Refused("Name the token, for example after the identity provider using it.")
    if len(label) > NAME_MAX:
        raise Refused(f"Keep the name under {NAME_MAX} characters.")
    if sum(1 for t in of(org_id) if t.revoked_at is None) >= MAX_TOKENS:
        raise Refused(f"An organization can have at most {MAX_TOKENS} tokens: revoke one.")
    value = PREFIX + secrets.token_urlsafe(32)
    token = ScimToken(organization_id=org_id, name=label, token_hash=_digest(value),
                      created_by_id=actor.id)
    db().add(token)
    db().flush()
    audit.in_organization("organization_scim_token_created", org_id, None, actor.id,
                          name=label, token=token.id)
    db().commit()
    return token, value


def revoke(actor: User, organization_id: object, token_id: object) -> None:
    """Refuse the token from now on (owners only); commits."""
    org_id = require_owner(actor, organization_id).organization_id
    token = db().get(ScimToken, token_id) if well_formed(token_id) else None
    if token is None or token.organization_id != org_id or token.revoked_at is not None:
        raise NotFound
    token.revoked_at = utcnow()
    audit.in_organization("organization_scim_token_revoked", org_id, None, actor.id,
                          name=token.name, token=token.id)
    db().commit()


def presented(value: object) -> ScimToken | None:
    """The live token whose value was presented, or None (unknown, malformed, revoked);
    stamps ``last_used_at`` in its own transaction (a refused SCIM call leaves it true)."""
    if not isinstance(value, str) or not value.startswith(PREFIX) or len(value) > 200:
        return None
    token = db().scalars(select(ScimToken).where(ScimToken.token_hash == _digest(value),
                                                 ScimToken.revoked_at.is_(None))).first()
    if token is None:
        return None
    now = utcnow()
    if token.last_used_at is None or now - token.last_used_at > _TOUCH_INTERVAL:
        with own_transaction() as bookkeeping:
            bookkeeping.execute(update(ScimToken).where(ScimToken.id == token.id)
                                .values(last_used_at=now))
        set_committed_value(token, "last_used_at", now)
    return token
