"""Admin API clients: made and revoked by owners, authenticated by a secret, acting with a role.

A client is made by an owner with a name, a role ceiling (``support`` or ``admin``; never
``owner``: roles, clients and policy stay with people who sign in with a second factor) and
scopes (:data:`SCOPES`). Its secret is shown once and kept as a password hash (the hasher of
``gateway.identity.passwords``). The client acts with the lower of its ceiling and its
creator's *current* role (:func:`acting_as`): an owner who loses the role takes their clients'
powers with them, and a client can never do more than a person could. Its actions go through
the same services as the console's (``gateway.identity.interventions``), audited with the
client's id (``api-...``) as the actor.

Access tokens are random, live :data:`TOKEN_SECONDS`, and are kept as their SHA-256; a
revoked client's tokens are deleted with it and refused at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select

from gateway.db import db
from gateway.identity import audit, roles
from gateway.identity.passwords import hash_password, verify_password
from gateway.identity.roles import Action, Actor, Role
from gateway.models import ApiClient, ApiToken, User, utcnow

#: What a token may be used for; the API checks the scope *and* the role for every call.
SCOPES = ("people:read", "people:write", "audit:read")
#: The roles a client may be given.
CEILINGS = (Role.SUPPORT, Role.ADMIN)
#: Lifetime of an access token (seconds): a leaked token is worth ten minutes.
TOKEN_SECONDS = 600
NAME_MAX = 100
ID_PREFIX = "api-"


class Invalid(Exception):
    """The client cannot be made as asked; ``message`` says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class ClientActor:
    """An API client as an :class:`~gateway.identity.roles.Actor`: its id and its role now."""

    id: str
    role: str | None


def _may_manage(actor: User) -> None:
    if not roles.may(actor, Action.MANAGE_API_CLIENTS):
        raise PermissionError(Action.MANAGE_API_CLIENTS.value)


def create(actor: User, name: str, role: object, scopes: list[str]) -> tuple[ApiClient, str]:
    """A new client and its secret (shown once, never stored)."""
    _may_manage(actor)
    name = " ".join(name.split())[:NAME_MAX] if isinstance(name, str) else ""
    ceiling = Role.parse(role)
    if not name:
        raise Invalid("Give the client a name.")
    if ceiling not in CEILINGS:
        raise Invalid("Choose the client's role: support or admin.")
    if not scopes or any(s not in SCOPES for s in scopes):
        raise Invalid("Choose at least one scope.")
    secret = secrets.token_urlsafe(32)
    client = ApiClient(id=ID_PREFIX + secrets.token_hex(14), name=name,
                       secret_hash=hash_password(secret), role=ceiling.label,
                       scopes=" ".join(s for s in SCOPES if s in scopes), created_by=actor.id)
    db().add(client)
    audit.by_operator("api_client_created", None, actor.id, client=client.id, name=name,
                      role=client.role, scopes=client.scopes)
    db().commit()
    return client, secret


def revoke(actor: User, client_id: str) -> None:
    """The client is refused from now on: its tokens go with it. LookupError when unknown."""
    _may_manage(actor)
    client = db().get(ApiClient, client_id[:32])
    if client is None or client.revoked_at is not None:
        raise LookupError(client_id)
    client.revoked_at = utcnow()
    db().execute(delete(ApiToken).where(ApiToken.client_id == client.id))
    audit.by_operator("api_client_revoked", None, actor.id, client=client.id, name=client.name)
    db().commit()


def listed() -> list[ApiClient]:
    """Every client, newest first (revoked ones too: the page shows when they were)."""
    return list(db().scalars(select(ApiClient).order_by(ApiClient.created_at.desc())))


def active(client_id: str) -> ApiClient | None:
    """The client ``client_id`` unless unknown or revoked."""
    if not isinstance(client_id, str) or not client_id.startswith(ID_PREFIX):
        return None
    client = db().get(ApiClient, client_id[:32])
    return client if client is not None and client.revoked_at is None else None


def secret_matches(client: ApiClient, secret: str) -> bool:
    return verify_password(client.secret_hash, secret)


def allowed_scope(client: ApiClient, requested: str | None) -> str:
    """The scopes a token gets: those asked for that the client holds (all when none asked)."""
    held = client.scopes.split()
    if not requested:
        return " ".join(held)
    return " ".join(s for s in held if s in requested.split())


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def issue(client: ApiClient, value: str, scope: str, expires_in: int) -> None:
    """Keep the token ``value`` (its hash) and stamp the client as used; the expired tokens of
    the client are dropped on the way."""
    now = utcnow()
    db().execute(delete(ApiToken).where(ApiToken.client_id == client.id,
                                        ApiToken.expires_at <= now))
    db().add(ApiToken(token_hash=_digest(value), client_id=client.id, scope=scope,
                      issued_at=now, expires_at=now + timedelta(seconds=expires_in)))
    client.last_used_at = now
    db().commit()


@dataclass(frozen=True)
class Token:
    """A presented access token that exists (expired or not: the caller checks)."""

    client: ApiClient
    scope: str
    expires_at: datetime

    @property
    def expired(self) -> bool:
        return self.expires_at <= utcnow()


def token(value: str) -> Token | None:
    """The token ``value``, or None when unknown or its client is revoked."""
    if not isinstance(value, str) or not value or len(value) > 200:
        return None
    row = db().get(ApiToken, _digest(value))
    if row is None:
        return None
    client = active(row.client_id)
    return Token(client, row.scope, row.expires_at) if client is not None else None


def acting_as(client: ApiClient) -> Actor:
    """The client as an actor: the lower of its ceiling and its creator's role now (None when
    the creator holds no role any more: every call is refused)."""
    creator = db().get(User, client.created_by)
    ceiling = Role.parse(client.role)
    held = roles.role_of(creator)
    role = min(ceiling, held) if ceiling is not None and held is not None else None
    return ClientActor(id=client.id, role=role.label if role is not None else None)
