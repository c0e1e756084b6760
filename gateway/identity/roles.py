"""Operator roles on Console accounts, and the one table of who may do what to whom.

Three roles, each containing the one below: ``support`` reads people and the audit log,
resends verification, ends sessions, forgets devices and starts a reset mail; ``admin`` also
disables and enables accounts, resets 2FA, lifts lockouts and unlinks products; ``owner`` also
grants and revokes roles. Nobody acts on an account holding an equal or higher role, except
owners (who may act on anyone, other owners included: the first owner comes from the CLI and
someone must be able to fix a compromised owner). Every check of the admin console and its
CLI comes through :func:`may` and :func:`may_act_on`, never through string compares in views.

Holding a role requires a second factor: :func:`must_enrol` is what the Console's enrolment
gate (``gateway.console.enrolment_gate``) and the admin console's guard ask.
"""

from __future__ import annotations

import enum
from typing import Protocol, Self

from sqlalchemy import select

from gateway.db import db
from gateway.identity import audit
from gateway.models import User


class RankedRole(enum.IntEnum):
    """Roles in order: a higher value holds every power of the lower ones; stored and shown
    by their lower-case name (also the organizations' roles, ``gateway.organizations.roles``)."""

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, value: object) -> Self | None:
        """The role named ``value`` (its label), or None."""
        if not isinstance(value, str):
            return None
        return {r.label: r for r in cls}.get(value)


class Role(RankedRole):
    """The operator roles."""

    SUPPORT = 1
    ADMIN = 2
    OWNER = 3


class Action(enum.StrEnum):
    """Everything an operator can do; the value is what the audit log and routes say."""

    READ = "read"
    RESEND_VERIFICATION = "resend_verification"
    SEND_RESET = "send_reset"
    REVOKE_SESSION = "revoke_session"
    FORGET_DEVICE = "forget_device"
    DISABLE = "disable"
    ENABLE = "enable"
    RESET_2FA = "reset_2fa"
    LIFT_LOCKOUT = "lift_lockout"
    UNLINK = "unlink"
    GRANT_ROLE = "grant_role"
    READ_AUDIT = "read_audit"
    MANAGE_API_CLIENTS = "manage_api_clients"
    MANAGE_POLICY = "manage_policy"


#: The least role each action needs (the role matrix in the docs/operations.md is this table).
MINIMUM_ROLE: dict[Action, Role] = {
    Action.READ: Role.SUPPORT,
    Action.READ_AUDIT: Role.SUPPORT,
    Action.RESEND_VERIFICATION: Role.SUPPORT,
    Action.SEND_RESET: Role.SUPPORT,
    Action.REVOKE_SESSION: Role.SUPPORT,
    Action.FORGET_DEVICE: Role.SUPPORT,
    Action.DISABLE: Role.ADMIN,
    Action.ENABLE: Role.ADMIN,
    Action.RESET_2FA: Role.ADMIN,
    Action.LIFT_LOCKOUT: Role.ADMIN,
    Action.UNLINK: Role.ADMIN,
    Action.GRANT_ROLE: Role.OWNER,
    Action.MANAGE_API_CLIENTS: Role.OWNER,
    Action.MANAGE_POLICY: Role.OWNER,
}


class Actor(Protocol):
    """Who acts: a signed-in operator (a :class:`User`) or an admin API client acting with
    its role (``gateway.identity.api_clients.ClientActor``); only the id and role matter."""

    @property
    def id(self) -> str: ...

    @property
    def role(self) -> str | None: ...


def role_of(user: Actor | None) -> Role | None:
    return Role.parse(user.role) if user is not None else None


def may(actor: Actor, action: Action) -> bool:
    """Whether ``actor``'s role allows ``action`` at all (on nobody in particular)."""
    role = role_of(actor)
    return role is not None and role >= MINIMUM_ROLE[action]


def may_act_on(actor: Actor, action: Action, target: User) -> bool:
    """Whether ``actor`` may do ``action`` to ``target``: the role allows it, and the target
    holds a lower role (or none), unless the actor is an owner. Reading is allowed on anyone
    the role may read (support must see who the admins are to route a request)."""
    if not may(actor, action):
        return False
    actor_role = role_of(actor)
    target_role = role_of(target)
    if action is Action.READ or actor_role is Role.OWNER or target_role is None:
        return True
    return actor_role is not None and target_role < actor_role


def must_enrol(user: User) -> bool:
    """The account must set up a second factor before anything else: it holds a role, or an
    operator reset its 2FA (``User.must_enrol_2fa``), and it has none."""
    return (user.role is not None or user.must_enrol_2fa) and not user.has_second_factor


def set_role(target: User, role: Role | None, actor_id: str | None, reason: str) -> None:
    """Grant ``role`` to ``target`` (None: revoke), audited with who and why; the caller's
    service commits. A grant to an account without a second factor makes its next sign-in
    enrol one (:func:`must_enrol`)."""
    before = target.role
    target.role = role.label if role is not None else None
    if before == target.role:
        return
    if role is None:
        audit.by_operator("role_revoked", target.id, actor_id, role=before, reason=reason)
    else:
        audit.by_operator("role_granted", target.id, actor_id, role=target.role,
                          previous=before, reason=reason)


def holders() -> list[User]:
    """Every account holding a role, owners first."""
    query = select(User).where(User.role.is_not(None)).order_by(User.email)
    return sorted(db().scalars(query), key=lambda u: -(role_of(u) or 0))
