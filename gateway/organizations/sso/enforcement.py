"""An organization's sign-in rules: enforced single sign-on for the accounts it manages, with
its owners' break-glass, and the lifetime of its members' single sign-on sessions.

:func:`gate` is what ``gateway.identity.signin`` asks of every account before a session
starts (the app factory installs it): a managed account of an organization that enforces
SSO signs in only through the identity provider; an owner among them keeps the password,
with a second factor proven there and then (a broken identity provider must not lock the
organization out, and a password alone must not be a way around it). Decision: enforcement
holds only while the organization has a usable enabled connection (turning it on needs one;
the last one cannot be turned off or removed while it holds), so nobody is locked out by a
connection that no longer exists.
"""

from __future__ import annotations

from sqlalchemy import select

from gateway.db import db
from gateway.identity import audit
from gateway.identity.signin import Gate
from gateway.models import Organization, OrganizationMember, SsoConnection, User
from gateway.organizations.errors import Refused
from gateway.organizations.membership import organization, require_owner, role_of
from gateway.organizations.roles import OrgRole
from gateway.organizations.sso.kinds import usable

#: Session lifetimes an owner may choose for single sign-on sessions (seconds -> words).
LIFETIMES = {3600: "1 hour", 8 * 3600: "8 hours", 12 * 3600: "12 hours", 24 * 3600: "1 day",
             7 * 86400: "7 days"}


def _has_usable_connection(organization_id: str) -> bool:
    query = select(SsoConnection.id).where(SsoConnection.organization_id == organization_id,
                                           SsoConnection.enabled.is_(True),
                                           SsoConnection.kind.in_(usable()))
    return db().scalars(query.limit(1)).first() is not None


def enforcing(user: User) -> Organization | None:
    """The organization whose enforced single sign-on holds for ``user``, if any."""
    if user.managed_by_id is None:
        return None
    org = db().get(Organization, user.managed_by_id)
    if org is None or not org.sso_enforced or not _has_usable_connection(org.id):
        return None
    return org


def gate(user: User) -> Gate:
    org = enforcing(user)
    if org is None:
        return Gate.OPEN
    member = db().scalars(select(OrganizationMember).where(
        OrganizationMember.organization_id == org.id,
        OrganizationMember.user_id == user.id)).one_or_none()
    if member is not None and role_of(member) is OrgRole.OWNER:
        return Gate.BREAK_GLASS
    return Gate.SSO_ONLY


def set_policy(actor: User, organization_id: object, enforced: bool,
               session_seconds: object) -> Organization:
    """Turn enforcement on or off and set the lifetime of single sign-on sessions (``""`` or
    None: the gateway's own); commits once, or refuses with nothing changed. Enforcement
    needs an enabled connection, and the owner turning it on needs a second factor (their
    own break-glass)."""
    org = organization(require_owner(actor, organization_id))
    if session_seconds in (None, ""):
        lifetime = None
    else:
        try:
            lifetime = int(str(session_seconds))
        except ValueError:
            lifetime = -1
        if lifetime not in LIFETIMES:
            raise Refused("Choose one of the lifetimes offered.")
    if enforced and not org.sso_enforced:
        if not _has_usable_connection(org.id):
            raise Refused("Add and turn on a single sign-on connection first.")
        if not actor.has_second_factor:
            raise Refused("Turn on two-factor authentication for your own account first: "
                          "with single sign-on enforced, an owner's way in when the identity "
                          "provider fails is the password with a second factor.")
    if enforced != org.sso_enforced:
        org.sso_enforced = enforced
        audit.in_organization("organization_sso_enforced" if enforced
                              else "organization_sso_not_enforced", org.id, None, actor.id)
    if lifetime != org.sso_session_max_age:
        org.sso_session_max_age = lifetime
        audit.in_organization("organization_sso_session_lifetime", org.id, None, actor.id,
                              seconds=lifetime)
    db().commit()
    return org
