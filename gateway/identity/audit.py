"""Audit log of security events, shown to the user in settings."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.db import db
from gateway.models import AuditEvent
from gateway.web.client import client_ip

log = logging.getLogger("gateway.audit")

#: Human labels for the settings page; the keys are what is stored.
EVENT_LABELS = {
    "signup": "Account created",
    "email_verified": "Email address verified",
    "login": "Signed in",
    "login_failed": "Failed sign-in attempt",
    "lockout": "Sign-in locked after repeated failures",
    "lockout_lifted": "Sign-in lock lifted (a reset or a passkey proved it was you)",
    "logout": "Signed out",
    "reauthenticated": "Confirmed password",
    "2fa_enabled": "Two-factor authentication turned on",
    "2fa_disabled": "Two-factor authentication turned off",
    "authenticator_added": "Authenticator app added (two-factor authentication was on)",
    "authenticator_replaced": "Authenticator app replaced",
    "authenticator_removed": "Authenticator app removed (a passkey keeps 2FA on)",
    "recovery_code_used": "Recovery code used",
    "recovery_codes_regenerated": "New recovery codes created",
    "passkey_added": "Passkey added",
    "passkey_renamed": "Passkey renamed",
    "passkey_removed": "Passkey removed",
    "passkey_counter_regression": "Passkey refused: its counter went backwards (possible copy)",
    "password_changed": "Password changed",
    "password_reset_requested": "Password reset link requested",
    "password_reset": "Password reset from the emailed link",
    "device_remembered": "Device remembered for 30 days",
    "device_forgotten": "Remembered device forgotten",
    "session_revoked": "Session signed out",
    "sessions_revoked_all": "Signed out everywhere",
    "product_linked": "Product user linked",
    "product_created": "Product user created",
    "product_login_redirect": "Sent from a product login page",
    "email_change_requested": "Email change requested",
    "email_change_cancelled": "Email change stopped from the old address",
    "email_changed": "Email address changed",
    "email_change_failed": "Email change failed",
    "plan_upgraded": "Plan upgraded",
    # The operator console's actions (gateway.identity.interventions): the person's activity
    # page names the action, never the operator.
    "role_granted": "Operator role granted",
    "role_revoked": "Operator role removed",
    "account_disabled": "Account disabled by the site's support team",
    "account_enabled": "Account enabled again by the site's support team",
    "2fa_reset": "Two-factor authentication reset by the site's support team",
    "reset_mail_sent": "Password reset link sent by the site's support team",
    "verification_resent": "Confirmation link sent again by the site's support team",
    "lockout_lifted_by_support": "Sign-in lock lifted by the site's support team",
    "product_unlinked": "Product user unlinked by the site's support team",
    "audit_exported": "Audit log exported",
    "audit_pruned": "Old audit rows removed (AUDIT_RETENTION_DAYS)",
    "api_client_created": "Admin API client created",
    "api_client_revoked": "Admin API client revoked",
    # Organizations (gateway.organizations): recorded with the organization's id, so its audit
    # page lists them; ``user_id`` is the person the event is about.
    "organization_created": "Organization created",
    "organization_member_invited": "Invitation to an organization sent",
    "organization_invitation_revoked": "Invitation to an organization withdrawn",
    "organization_joined": "Joined an organization",
    "organization_role_changed": "Organization role changed",
    "organization_member_removed": "Removed from an organization",
    "organization_domain_added": "Domain added to an organization",
    "organization_domain_verified": "Domain verified by DNS",
    "organization_domain_removed": "Domain removed from an organization",
    "organization_account_managed": "Account brought under an organization's management",
    # Single sign-on (gateway.organizations.sso).
    "login_refused_sso": "Sign-in refused: the organization requires single sign-on",
    "sso_login_refused": "Single sign-on refused",
    "sso_account_created": "Account created by single sign-on",
    "organization_sso_connection_added": "Single sign-on connection added",
    "organization_sso_connection_changed": "Single sign-on connection changed",
    "organization_sso_connection_removed": "Single sign-on connection removed",
    "organization_sso_enforced": "Single sign-on required for managed accounts",
    "organization_sso_not_enforced": "Single sign-on no longer required",
    "organization_sso_session_lifetime": "Single sign-on session lifetime changed",
}


def record(event: str, user_id: str | None = None, /, **detail: object) -> None:
    """Add an audit event to the request's unit of work (its service commits)."""
    _add(db(), event, user_id, None, detail)


def record_in(
    into: Session, event: str, user_id: str | None = None, /, **detail: object
) -> None:
    """Add an audit event to the transaction of ``into`` (``gateway.db.own_transaction``);
    positional-only, so a detail may be called ``session`` or ``event``."""
    _add(into, event, user_id, None, detail)


def by_operator(
    event: str, user_id: str | None, actor_id: str | None, /, **detail: object
) -> None:
    """An operator's action on ``user_id`` (the admin console, the roles CLI): ``actor_id``
    is who did it (None: a shell), kept in its own column so the audit page filters on it."""
    _add(db(), event, user_id, actor_id, detail)


def in_organization(
    event: str, organization_id: str, user_id: str | None, actor_id: str | None, /,
    **detail: object,
) -> None:
    """An organization's event about ``user_id``, done by ``actor_id`` (the person
    themselves when they are the same): listed on that organization's audit page."""
    _add(db(), event, user_id, actor_id, detail, organization_id)


def _add(
    into: Session, event: str, user_id: str | None, actor_id: str | None,
    detail: Mapping[str, object], organization_id: str | None = None,
) -> None:
    if event not in EVENT_LABELS:
        raise ValueError(f"unknown audit event {event!r}")
    text = json.dumps(detail, sort_keys=True, default=str) if detail else ""
    into.add(AuditEvent(user_id=user_id, event=event, actor_id=actor_id, ip_address=client_ip(),
                        detail=text, organization_id=organization_id))
    log.info("audit %s user=%s actor=%s %s", event, user_id, actor_id, text)


_FAILED_STAGES = {
    "password": "Failed sign-in: wrong password",
    "2fa": "Failed sign-in: wrong two-factor code",
    "reauthenticate": "Failed password confirmation (before changing a setting)",
    "password_reset": "Failed password reset: wrong two-factor code",
}


def describe(event: AuditEvent, titles: Mapping[str, str] | None = None) -> str:
    """What happened, in words, with the product and details the event recorded; ``titles``
    (product name -> title, from the products file) names the products."""
    try:
        detail = json.loads(event.detail) if event.detail else {}
    except ValueError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    product = str(detail.get("product", ""))
    title = (titles or {}).get(product, product)
    kind = event.event
    if kind == "product_linked" and title:
        return f"Existing {title} user linked to this account"
    if kind == "product_created" and title:
        return f"New {title} user created and linked to this account"
    if kind == "product_login_redirect" and title:
        return f"Sent to sign in here from the {title} sign-in page"
    if kind == "login_failed":
        return _FAILED_STAGES.get(str(detail.get("stage")), EVENT_LABELS[kind])
    if kind == "email_change_requested" and detail.get("new_email"):
        return f"Email change to {detail['new_email']} requested"
    if kind == "email_change_cancelled" and detail.get("new_email"):
        return f"Email change to {detail['new_email']} stopped from the old address"
    if kind == "email_changed" and detail.get("old_email"):
        return f"Email address changed (was {detail['old_email']})"
    if kind == "sessions_revoked_all" and isinstance(detail.get("count"), int):
        count = detail["count"]
        return f"Signed out everywhere ({count} session{'s' if count != 1 else ''} ended)"
    if kind == "plan_upgraded":
        return "Plan changed to Console Unlimited"
    return EVENT_LABELS.get(kind, kind)


def recent_events(user_id: str, limit: int = 50) -> list[AuditEvent]:
    query = (
        select(AuditEvent)
        .where(AuditEvent.user_id == user_id)
        .order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return list(db().scalars(query))
