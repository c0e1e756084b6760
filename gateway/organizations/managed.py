"""Managed accounts: Console accounts whose address is at a domain the organization
verified, brought under the organization by an owner.

The owner sees the accounts that qualify (verified address exactly at a verified domain,
not managed by anyone yet: subdomains do not count) and confirms the very list shown; the
service brings under only those of the confirmed addresses that still qualify when the
confirmation arrives, so an account created in between is not taken without being shown.
Each account becomes a member (role ``member`` unless it is one already) and its holder is
mailed a notice (never dropped by the mail cap: it tells them who now has a say over their
account). Management ends when the domain is removed from the organization or the person
leaves or is removed from it (``release``).

A managed account's address stays at one of its organization's verified domains
(:func:`address_refusal`, asked by the Console's email change when it is requested and
again when it is confirmed): the organization's identity provider manages it, and an address
elsewhere would leave the organization's single sign-on and SCIM (a later single sign-on
would make a second, just-in-time account). Password-less accounts made by single sign-on
or SCIM are held to it alike. The IdP itself changes addresses over SCIM, within the same
domains (``provisioning``).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import current_app, url_for
from sqlalchemy import select

from gateway.db import db
from gateway.identity import audit
from gateway.identity.mail import mail_text, send_mail
from gateway.models import Organization, OrganizationDomain, OrganizationMember, User, utcnow
from gateway.organizations.roles import OrgRole

#: Addresses one confirmation may bring under (a larger domain is confirmed in batches).
BATCH = 500


def _verified_domains(organization_id: str) -> list[str]:
    query = select(OrganizationDomain.domain).where(
        OrganizationDomain.organization_id == organization_id,
        OrganizationDomain.verified_at.is_not(None))
    return list(db().scalars(query))


def address_refusal(user: User, new_email: str) -> str | None:
    """Why ``user`` may not take the (canonical) address ``new_email``, or None when it may:
    an account an organization manages keeps an address at one of its verified domains."""
    if user.managed_by_id is None:
        return None
    domains = _verified_domains(user.managed_by_id)
    if new_email.rsplit("@", 1)[-1] in domains:
        return None
    within = " or ".join(f"@{d}" for d in sorted(domains)) or "its domain"
    return (f"Your organization's identity provider manages this address: you can only "
            f"change it to another address at {within}. Ask your organization's "
            f"administrators for anything else.")


def candidates(organization_id: str) -> list[User]:
    """Accounts that qualify now, by address."""
    found: list[User] = []
    for domain in _verified_domains(organization_id):
        query = (select(User)
                 .where(User.email.endswith("@" + domain, autoescape=True),
                        User.email_verified_at.is_not(None),
                        User.managed_by_id.is_(None))
                 .order_by(User.email).limit(BATCH))
        found += db().scalars(query)
    return sorted(found, key=lambda u: u.email)[:BATCH]


def managed(organization_id: str) -> list[User]:
    query = select(User).where(User.managed_by_id == organization_id).order_by(User.email)
    return list(db().scalars(query))


def bring_under(actor: User, org: Organization, confirmed: Iterable[object]) -> int:
    """Bring the confirmed addresses that still qualify under ``org``; commits. The caller
    checked that ``actor`` owns ``org`` (``membership.require_owner``). Returns how many."""
    wanted = {email for email in confirmed if isinstance(email, str)}
    chosen = [user for user in candidates(org.id) if user.email in wanted]
    session = db()
    members = set(session.scalars(select(OrganizationMember.user_id)
                                  .where(OrganizationMember.organization_id == org.id)))
    for user in chosen:
        user.managed_by_id = org.id
        if user.id not in members:
            session.add(OrganizationMember(organization_id=org.id, user_id=user.id,
                                           role=OrgRole.MEMBER.label, created_at=utcnow()))
        audit.in_organization("organization_account_managed", org.id, user.id, actor.id,
                              email=user.email)
        send_mail(user.email, f"Your account is now managed by {org.name}", _notice(org),
                  notice=True)
    session.commit()
    return len(chosen)


def _notice(org: Organization) -> str:
    link = current_app.config["PUBLIC_URL"] + url_for("organizations.index")
    return (
        f"The organization {mail_text(org.name)} verified that it owns the domain of your "
        f"address, and one of its owners brought your account under it. It is now a member "
        f"of that organization; its owners and admins see your sign-ins and two-factor "
        f"changes from now on.\n\nYour organizations: {link}\n\n"
        f"If you do not recognise this organization, contact the people who run your "
        f"email domain."
    )


def release(organization_id: str, users: Iterable[User]) -> None:
    """End the organization's management of ``users`` (those it manages); the caller
    commits."""
    for user in users:
        if user.managed_by_id == organization_id:
            user.managed_by_id = None


def at_domain(organization_id: str, domain: str) -> list[User]:
    query = select(User).where(User.managed_by_id == organization_id,
                               User.email.endswith("@" + domain, autoescape=True))
    return list(db().scalars(query))
