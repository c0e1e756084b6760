"""An organization's audit view: its own events (invitations, joins, role changes,
removals) and its members' security events (sign-ins, 2FA changes, passkeys, password).

Decision: a member's events show only from the moment they joined and only while they are a
member; an organization sees nothing of what an account did before it joined, or after it
left, and never another organization's events.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select

from gateway.db import db
from gateway.identity.audit import describe
from gateway.models import AuditEvent, OrganizationMember, User

#: The members' own events an organization sees.
SECURITY_EVENTS = frozenset({
    "login", "login_failed", "lockout", "lockout_lifted", "logout",
    "2fa_enabled", "2fa_disabled", "authenticator_added", "authenticator_replaced",
    "authenticator_removed", "recovery_code_used", "recovery_codes_regenerated",
    "passkey_added", "passkey_removed", "passkey_counter_regression",
    "password_changed", "password_reset", "sessions_revoked_all", "email_changed",
    "2fa_reset", "account_disabled", "account_enabled", "login_refused_sso",
})
LIMIT = 200


@dataclass(frozen=True)
class Entry:
    at: datetime
    who: str
    what: str
    ip_address: str


def _what(event: AuditEvent) -> str:
    if not event.event.startswith("organization_"):
        return describe(event)
    try:
        detail = json.loads(event.detail) if event.detail else {}
    except ValueError:
        detail = {}
    detail = detail if isinstance(detail, dict) else {}
    text = describe(event)
    if detail.get("email"):
        text += f": {detail['email']}"
    if detail.get("role"):
        text += f" ({detail['role']})"
    return text


def entries(organization_id: str, limit: int = LIMIT) -> list[Entry]:
    """The newest ``limit`` events of the organization and of its members, newest first."""
    members = (
        select(AuditEvent, User.email)
        .join(OrganizationMember, and_(OrganizationMember.user_id == AuditEvent.user_id,
                                       OrganizationMember.organization_id == organization_id))
        .join(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.created_at >= OrganizationMember.created_at,
               AuditEvent.event.in_(SECURITY_EVENTS),
               AuditEvent.organization_id.is_(None))
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    own = (
        select(AuditEvent, User.email)
        .outerjoin(User, User.id == AuditEvent.user_id)
        .where(AuditEvent.organization_id == organization_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    rows = list(db().execute(members).tuples()) + list(db().execute(own).tuples())
    rows.sort(key=lambda row: (row[0].created_at, row[0].id), reverse=True)
    return [Entry(event.created_at, email or "", _what(event), event.ip_address)
            for event, email in rows[:limit]]
