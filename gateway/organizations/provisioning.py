"""SCIM in: what an organization's IdP may do to its members, with one of the
organization's tokens (``scim_tokens``). The SCIM protocol (``gateway.scim``) parses and
renders; the rules are here, in plain values.

What the IdP sees: the organization's members whose account it manages (``managed_by_id``),
each as a SCIM User whose ``id`` is the membership's public id. Members it does not manage
(someone invited with an outside address) and everyone of another organization are not
found, as an id that does not exist.

Decisions:

- **Create.** Only an address exactly at one of the organization's *verified* domains
  (:class:`Invalid` otherwise): the IdP vouches for the address, so the account is created
  verified, without a password (``NO_PASSWORD``: it signs in through the organization's SSO,
  or sets one with the emailed reset link), as a managed ``member``, and the person is
  mailed. An address that already has a Console account is not duplicated: that account
  becomes a managed member and its holder is mailed, as when an owner brings it under
  (``managed``); a sign-up of that address not yet confirmed is dropped (the IdP's word
  confirms the address first). An account already managed by this organization, or by
  another, is a :class:`Conflict`.
- **Deactivate** (``active: false``) sets ``deprovisioned_at``, kept apart from an
  operator's ``disabled_at`` so that neither authority undoes the other; every session ends
  at once through the session service (``sessions.revoke_all``), so the Console, the
  built-in proxy and forward-auth refuse the next request, and no product gets another
  assertion. ``active: true`` clears it.
- **Email change** goes through the all-or-nothing saga (``propagation.change_now``, handed
  in by the caller as an :class:`EmailChanger`: organizations and products are sibling
  packages), to an address at a verified domain only: a product refusing or unreachable
  leaves everything as it was (:class:`Conflict`, :class:`Unavailable`).
- **Delete** turns the account off (as deactivation), ends its management and takes it out
  of the organization; the account is kept, turned off, never deleted: it may own product
  users (workspaces, data) that a deletion would orphan, its audit trail stays whole, and
  an IdP's mistaken DELETE is undone by provisioning the address again.
- **Owners** are visible but the IdP cannot turn them off or remove them
  (:class:`NotAllowed`): a misconfigured IdP, or a leaked token, must not lock an
  organization out of its own settings.

Every change is audited in the organization (its audit page) with the token's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from flask import current_app, url_for
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select

from gateway.db import db
from gateway.identity import audit
from gateway.identity.addresses import canonical_email
from gateway.identity.mail import mail_text, send_mail
from gateway.identity.sessions import revoke_all
from gateway.models import NO_PASSWORD, Organization, OrganizationMember, ScimToken, User, utcnow
from gateway.organizations import domains
from gateway.organizations.errors import NotAllowed, NotFound, Refused
from gateway.organizations.membership import well_formed
from gateway.organizations.roles import OrgRole

EXTERNAL_ID_MAX = 128


class Invalid(Refused):
    """The value cannot be taken (a 400)."""


class Conflict(Refused):
    """The address is someone else's, or already provisioned (a 409)."""


class Unavailable(Refused):
    """A product could not be reached for an email change; nothing changed (retry later)."""


class EmailChanger(Protocol):
    """Changes ``user``'s address everywhere or nowhere; raises :class:`Conflict`,
    :class:`Unavailable` or :class:`Invalid` with nothing changed."""

    def __call__(self, user: User, new_email: str) -> None: ...


@dataclass(frozen=True)
class Criteria:
    """What a search may ask for, each an exact match (None: any)."""

    email: str | None = None
    external_id: str | None = None
    member_id: str | None = None


def _visible(organization_id: str) -> Select[tuple[OrganizationMember]]:
    return (select(OrganizationMember)
            .join(User, User.id == OrganizationMember.user_id)
            .where(OrganizationMember.organization_id == organization_id,
                   User.managed_by_id == organization_id))


def get(token: ScimToken, member_id: object) -> OrganizationMember:
    """A member the token's organization manages (NotFound for anything else)."""
    if not well_formed(member_id):
        raise NotFound
    found = db().scalars(_visible(token.organization_id)
                         .where(OrganizationMember.public_id == member_id)).first()
    if found is None:
        raise NotFound
    return found


def search(token: ScimToken, criteria: Criteria, start: int,
           count: int) -> tuple[int, list[OrganizationMember]]:
    """How many members match, and those from the 1-based ``start`` on, at most ``count``,
    oldest first."""
    query = _visible(token.organization_id)
    asked = (criteria.email, criteria.external_id, criteria.member_id)
    if any(value is not None and not value.isprintable() for value in asked):
        return 0, []  # no stored value has control characters (nor may a query carry NUL)
    if criteria.email is not None:
        email = canonical_email(criteria.email)
        query = query.where(User.email == (email or ""))
    if criteria.external_id is not None:
        query = query.where(OrganizationMember.scim_external_id == criteria.external_id)
    if criteria.member_id is not None:
        query = query.where(OrganizationMember.public_id == criteria.member_id)
    total = db().scalar(select(func.count()).select_from(query.subquery())) or 0
    page = db().scalars(query.order_by(OrganizationMember.created_at, OrganizationMember.id)
                        .offset(start - 1).limit(count))
    return total, list(page)


def _address(value: object, organization_id: str) -> str:
    """The canonical address, when it is exactly at one of the verified domains."""
    email = canonical_email(value)
    if email is None:
        raise Invalid("userName must be an email address.")
    if email.rsplit("@", 1)[1] not in domains.verified(organization_id):
        raise Invalid("userName must be an address at one of the organization's verified "
                      "domains.")
    return email


def _external_id(value: object) -> str | None:
    if value is None:
        return None
    if (not isinstance(value, str) or not value.strip() or len(value) > EXTERNAL_ID_MAX
            or not value.isprintable()):
        raise Invalid(f"externalId must be a printable string of at most {EXTERNAL_ID_MAX} "
                      "characters.")
    return value


def _record(event: str, token: ScimToken, user: User, **detail: object) -> None:
    audit.in_organization(event, token.organization_id, user.id, None, email=user.email,
                          token=token.name, **detail)


def provision(token: ScimToken, email: object, *, active: bool = True,
              external_id: object = None) -> OrganizationMember:
    """Create the account, or bring the existing one of that address under the
    organization; commits. See the module's decisions."""
    org_id = token.organization_id
    address = _address(email, org_id)
    external = _external_id(external_id)
    session = db()
    org = session.get(Organization, org_id)
    if org is None:
        raise NotFound
    user = session.scalars(select(User).where(User.email == address)).first()
    if user is not None and not user.is_verified:
        # A sign-up nobody confirmed yet: the IdP's word confirms the address first.
        session.execute(delete(User).where(User.id == user.id)
                        .execution_options(synchronize_session=False))
        session.expunge(user)
        user = None
    try:
        with session.begin_nested():
            if user is None:
                user = User(email=address, password_hash=NO_PASSWORD,
                            email_verified_at=utcnow(), managed_by_id=org_id)
                session.add(user)
                session.flush()
                member = _join(org_id, user, external)
                _record("organization_scim_created", token, user)
                _mail(user, org, created=True)
            else:
                member = _adopt(token, org, user, external)
    except IntegrityError:
        session.rollback()  # the address was taken at the same moment
        raise Conflict("That address already has an account.") from None
    if not active:
        _deactivate(token, user)
    session.commit()
    return member


def _join(org_id: str, user: User, external: str | None) -> OrganizationMember:
    member = OrganizationMember(organization_id=org_id, user_id=user.id,
                                role=OrgRole.MEMBER.label, created_at=utcnow(),
                                scim_external_id=external, scim_updated_at=utcnow())
    db().add(member)
    db().flush()
    return member


def _adopt(token: ScimToken, org: Organization, user: User,
           external: str | None) -> OrganizationMember:
    """An existing account of the address becomes a managed member (mailed); a reactivation
    when the IdP removed it before."""
    if user.managed_by_id == org.id:
        raise Conflict("That account is already provisioned.")
    if user.managed_by_id is not None:
        raise Conflict("That account is managed by another organization.")
    user.managed_by_id = org.id
    member = db().scalars(select(OrganizationMember).where(
        OrganizationMember.organization_id == org.id,
        OrganizationMember.user_id == user.id)).first()
    if member is None:
        member = _join(org.id, user, external)
    else:
        member.scim_external_id = external
        member.scim_updated_at = utcnow()
    _record("organization_scim_adopted", token, user)
    _mail(user, org, created=False)
    if user.deprovisioned_at is not None:
        _reactivate(token, user)
    return member


def _mail(user: User, org: Organization, *, created: bool) -> None:
    public = current_app.config["PUBLIC_URL"]
    name = mail_text(org.name)
    if created:
        subject = f"{name} created a Unified Login account for you"
        body = (f"The organization {name} created a Unified Login account for "
                f"{user.email} through its identity provider. It has no password: sign in "
                f"with your organization's single sign-on, or choose a password here:\n\n"
                f"{public}{url_for('recovery.forgot_password')}")
    else:
        subject = f"Your account is now managed by {name}"
        body = (f"The organization {name}, which verified that it owns the domain of your "
                f"address, brought your Unified Login account under its management through "
                f"its identity provider. Its identity provider may now turn your account "
                f"off or change its address, and its owners and admins see your sign-ins.\n\n"
                f"Your organizations: {public}{url_for('organizations.index')}\n\n"
                f"If you do not recognise this organization, contact the people who run "
                f"your email domain.")
    send_mail(user.email, subject, body, notice=True)


def _deactivate(token: ScimToken, user: User) -> None:
    """Turn the account off and end every session of it now (the caller commits)."""
    if user.deprovisioned_at is not None:
        return
    user.deprovisioned_at = utcnow()
    ended = revoke_all(user.id, reason="organization")
    _record("organization_scim_deactivated", token, user, sessions_ended=ended)


def _reactivate(token: ScimToken, user: User) -> None:
    if user.deprovisioned_at is None:
        return
    user.deprovisioned_at = None
    _record("organization_scim_reactivated", token, user)


def _not_owner(member: OrganizationMember) -> None:
    if member.role == OrgRole.OWNER.label:
        raise NotAllowed


def update(token: ScimToken, member: OrganizationMember, change_email: EmailChanger, *,
           email: object = None, active: bool | None = None, external_id: object = None,
           external_id_given: bool = False) -> OrganizationMember:
    """Apply what the IdP changed (None: unchanged): every value is checked first, then the
    email change runs its saga (nothing else changes when it fails), then the rest; commits."""
    user = member.user
    address = None if email is None else _address(email, token.organization_id)
    external = _external_id(external_id) if external_id_given else member.scim_external_id
    if active is False:
        _not_owner(member)
    if address is not None and address != user.email:
        old = user.email
        change_email(user, address)
        db().refresh(user)
        _record("organization_scim_email_changed", token, user, old_email=old)
    if active is False:
        _deactivate(token, user)
    elif active is True:
        _reactivate(token, user)
    member.scim_external_id = external
    member.scim_updated_at = utcnow()
    db().commit()
    return member


def remove(token: ScimToken, member: OrganizationMember) -> None:
    """DELETE: turn the account off, end its management, take it out; commits."""
    _not_owner(member)
    user = member.user
    _deactivate(token, user)
    user.managed_by_id = None
    db().delete(member)
    _record("organization_scim_removed", token, user)
    db().commit()


def is_active(user: User) -> bool:
    """``active`` as the IdP sees it: its own switch (an operator's disable is apart)."""
    return user.deprovisioned_at is None
