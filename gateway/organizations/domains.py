"""Verified email domains: an owner adds ``example.com``, publishes a TXT record, and the
gateway checks it by DNS (``dns_txt``).

The record is ``_unified-login-challenge.<domain>`` TXT ``unified-login-verification=<token>``,
the token random per organization and domain. One organization at most has a domain
verified: the ``claim`` column is unique, so of two racing verifications one wins and the
other is told so. A domain is written as its owner types it in ASCII (internationalised
domains in their ``xn--`` form, as addresses are: ``gateway.identity.addresses``); it needs
two labels or more and a top-level label that is not a number (no IP addresses). Decision:
verification is checked once, when the owner asks; removing the domain releases it (and the
accounts managed through it, ``gateway.organizations.managed``).
"""

from __future__ import annotations

import re
import secrets
import unicodedata

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.db import db
from gateway.identity import audit
from gateway.models import OrganizationDomain, User, utcnow
from gateway.organizations import dns_txt, managed
from gateway.organizations.errors import NotFound, Refused
from gateway.organizations.membership import require_owner, well_formed

RECORD_PREFIX = "_unified-login-challenge."
VALUE_PREFIX = "unified-login-verification="
MAX_DOMAINS = 20
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_DOMAIN = re.compile(rf"(?=.{{1,253}}$)(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})")


def canonical_domain(value: object) -> str | None:
    """``value`` as stored (NFKC, trimmed, lower case, no trailing dot), or None."""
    if not isinstance(value, str) or len(value) > 1000:
        return None
    domain = unicodedata.normalize("NFKC", value).strip().lower().removesuffix(".")
    if not domain.isascii() or not _DOMAIN.fullmatch(domain):
        return None
    return domain


def record_name(domain: OrganizationDomain) -> str:
    return RECORD_PREFIX + domain.domain


def record_value(domain: OrganizationDomain) -> str:
    return VALUE_PREFIX + domain.token


def _owner(user: User, organization_id: object) -> str:
    return require_owner(user, organization_id).organization_id


def of(organization_id: str) -> list[OrganizationDomain]:
    query = (select(OrganizationDomain)
             .where(OrganizationDomain.organization_id == organization_id)
             .order_by(OrganizationDomain.domain))
    return list(db().scalars(query))


def verified(organization_id: str) -> list[str]:
    return [d.domain for d in of(organization_id) if d.verified_at is not None]


def _verified_elsewhere(domain: str, organization_id: str) -> bool:
    holder = db().scalar(select(OrganizationDomain.organization_id)
                         .where(OrganizationDomain.claim == domain))
    return holder is not None and holder != organization_id


def add(actor: User, organization_id: object, value: object) -> OrganizationDomain:
    """Add a domain to verify; commits."""
    org_id = _owner(actor, organization_id)
    domain = canonical_domain(value)
    if domain is None:
        raise Refused("Enter a domain name, like example.com.")
    existing = of(org_id)
    if any(d.domain == domain for d in existing):
        raise Refused("This organization has that domain already.")
    if len(existing) >= MAX_DOMAINS:
        raise Refused(f"An organization can have at most {MAX_DOMAINS} domains.")
    if _verified_elsewhere(domain, org_id):
        raise Refused("Another organization has verified that domain.")
    row = OrganizationDomain(organization_id=org_id, domain=domain,
                             token=secrets.token_urlsafe(32))
    db().add(row)
    audit.in_organization("organization_domain_added", org_id, None, actor.id, domain=domain)
    db().commit()
    return row


def _domain_in(org_id: str, domain_id: object) -> OrganizationDomain:
    row = db().get(OrganizationDomain, domain_id) if well_formed(domain_id) else None
    if row is None or row.organization_id != org_id:
        raise NotFound
    return row


def verify(actor: User, organization_id: object, domain_id: object) -> OrganizationDomain:
    """Look the TXT record up and mark the domain verified when it holds the token; commits.
    Refused (nothing changed) when the record is missing, DNS does not answer, or another
    organization verified the domain first."""
    org_id = _owner(actor, organization_id)
    row = _domain_in(org_id, domain_id)
    if row.verified_at is not None:
        return row
    try:
        values = dns_txt.txt_values(record_name(row))
    except dns_txt.DnsUnavailable:
        raise Refused("The DNS lookup failed: try again in a few minutes.") from None
    if record_value(row) not in values:
        raise Refused(f"No TXT record {record_name(row)} with the value shown was found. "
                      "DNS changes can take a while to appear: try again later.")
    session = db()
    try:
        with session.begin_nested():
            row.verified_at = utcnow()
            row.claim = row.domain
    except IntegrityError:
        session.rollback()
        raise Refused("Another organization has verified that domain.") from None
    audit.in_organization("organization_domain_verified", org_id, None, actor.id,
                          domain=row.domain)
    session.commit()
    return row


def remove(actor: User, organization_id: object, domain_id: object) -> None:
    """Remove the domain (and its claim); the accounts managed through it are released;
    commits."""
    org_id = _owner(actor, organization_id)
    row = _domain_in(org_id, domain_id)
    released = managed.at_domain(org_id, row.domain)
    managed.release(org_id, released)
    db().delete(row)
    audit.in_organization("organization_domain_removed", org_id, None, actor.id,
                          domain=row.domain, released=len(released))
    db().commit()
