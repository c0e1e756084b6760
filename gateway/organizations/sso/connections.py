"""An organization's single sign-on connections (owners add, change and remove them), and
which connection an address signs in through (identifier-first routing).

An address is routed by its domain: the organization that *verified* that domain (by DNS,
``gateway.organizations.domains``; one at most) and its enabled connections. A connection's
``config`` is its kind's settings (``gateway.organizations.sso.kinds``), checked by the kind
before it is stored; secrets in it are sealed. Each service commits once.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select

from gateway.db import db
from gateway.identity import audit
from gateway.identity.mail import mail_text
from gateway.models import OrganizationDomain, SsoConnection, User
from gateway.organizations.errors import NotFound, Refused
from gateway.organizations.membership import require_owner, well_formed
from gateway.organizations.sso.kinds import Kind, kind_of, usable

__all__ = ["SsoConnection", "connection_for_domain", "connections_for_domain", "create",
           "delete", "find", "of", "settings", "update"]

MAX_CONNECTIONS = 10
NAME_MAX = 100


def settings(connection: SsoConnection) -> dict[str, Any]:
    """The connection's stored settings (an empty mapping when the row was hand-edited)."""
    try:
        value = json.loads(connection.config or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def of(organization_id: str) -> list[SsoConnection]:
    query = (select(SsoConnection).where(SsoConnection.organization_id == organization_id)
             .order_by(SsoConnection.created_at, SsoConnection.id))
    return list(db().scalars(query))


def find(connection_id: object) -> SsoConnection | None:
    """The connection with this id, enabled or not (None for anything else)."""
    return db().get(SsoConnection, connection_id) if well_formed(connection_id) else None


def connections_for_domain(email_domain: str) -> list[SsoConnection]:
    """The enabled connections (of a kind this build signs in with) of the organization that
    verified ``email_domain``."""
    query = (
        select(SsoConnection)
        .join(OrganizationDomain,
              OrganizationDomain.organization_id == SsoConnection.organization_id)
        .where(OrganizationDomain.claim == email_domain.lower(),
               OrganizationDomain.verified_at.is_not(None),
               SsoConnection.enabled.is_(True), SsoConnection.kind.in_(usable()))
        .order_by(SsoConnection.created_at, SsoConnection.id)
    )
    return list(db().scalars(query))


def connection_for_domain(email_domain: str) -> SsoConnection | None:
    """The first enabled connection for addresses at ``email_domain`` (None: no SSO)."""
    found = connections_for_domain(email_domain)
    return found[0] if found else None


def _name(value: object) -> str:
    text = mail_text(value) if isinstance(value, str) else ""
    if not text:
        raise Refused("Give the connection a name people will recognise, like \"Okta\".")
    if len(text) > NAME_MAX:
        raise Refused(f"Keep the name under {NAME_MAX} characters.")
    return text


def _values(kind: Kind, submitted: Mapping[str, object]) -> dict[str, str]:
    values: dict[str, str] = {}
    for field in kind.fields:
        value = submitted.get(field.name, "")
        if not isinstance(value, str) or len(value) > field.max_length:
            raise Refused(f"{field.label}: at most {field.max_length} characters.")
        values[field.name] = value
    return values


def _in(organization_id: str, connection_id: object) -> SsoConnection:
    found = find(connection_id)
    if found is None or found.organization_id != organization_id:
        raise NotFound
    return found


def create(actor: User, organization_id: object, kind_name: object, name: object,
           submitted: Mapping[str, object]) -> SsoConnection:
    """A new, enabled connection of the kind named ``kind_name``; commits."""
    org_id = require_owner(actor, organization_id).organization_id
    kind = kind_of(kind_name)
    if kind is None:
        raise Refused("Choose OpenID Connect or SAML.")
    label = _name(name)
    if len(of(org_id)) >= MAX_CONNECTIONS:
        raise Refused(f"An organization can have at most {MAX_CONNECTIONS} connections.")
    config = kind.checked_config(_values(kind, submitted), {})
    row = SsoConnection(organization_id=org_id, kind=kind.name, name=label,
                        config=json.dumps(config), enabled=True)
    db().add(row)
    db().flush()
    audit.in_organization("organization_sso_connection_added", org_id, None, actor.id,
                          connection=row.id, kind=kind.name, name=label)
    db().commit()
    return row


def update(actor: User, organization_id: object, connection_id: object, name: object,
           enabled: bool, submitted: Mapping[str, object]) -> SsoConnection:
    """Change a connection's name, settings and whether it is on; commits. Turning off the
    last enabled connection of an organization that enforces SSO is refused."""
    org_id = require_owner(actor, organization_id).organization_id
    row = _in(org_id, connection_id)
    kind = kind_of(row.kind)
    if kind is None:
        raise NotFound
    label = _name(name)
    config = kind.checked_config(_values(kind, submitted), settings(row))
    if row.enabled and not enabled:
        _keep_one_for_enforcement(org_id, row)
    row.name, row.config, row.enabled = label, json.dumps(config), enabled
    audit.in_organization("organization_sso_connection_changed", org_id, None, actor.id,
                          connection=row.id, name=label, enabled=enabled)
    db().commit()
    return row


def delete(actor: User, organization_id: object, connection_id: object) -> None:
    """Remove a connection; commits (refused for the last enabled one while SSO is
    enforced)."""
    org_id = require_owner(actor, organization_id).organization_id
    row = _in(org_id, connection_id)
    if row.enabled:
        _keep_one_for_enforcement(org_id, row)
    db().delete(row)
    audit.in_organization("organization_sso_connection_removed", org_id, None, actor.id,
                          connection=row.id, name=row.name)
    db().commit()


def _keep_one_for_enforcement(org_id: str, leaving: SsoConnection) -> None:
    org = leaving.organization
    others = [c for c in of(org_id)
              if c.enabled and c.id != leaving.id and c.kind in usable()]
    if org.sso_enforced and not others:
        raise Refused("Single sign-on is enforced: turn enforcement off first, or keep "
                      "another connection on, so members can still sign in.")
