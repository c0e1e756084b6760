"""Roles inside an organization and the one table of who may do what to whom.

``owner`` > ``admin`` > ``member``. Members see the organization and its members; admins
and owners also invite, change roles, remove people and read the audit view. Below owner,
nobody acts on someone holding an equal or higher role, nor grants a role above their own
(an admin manages members, and may make one an admin); owners act on anyone, other owners
included. An organization always keeps at least one owner
(``gateway.organizations.membership``).
"""

from __future__ import annotations

from gateway.identity.roles import RankedRole


class OrgRole(RankedRole):
    """A role inside one organization."""

    MEMBER = 1
    ADMIN = 2
    OWNER = 3


def manages(role: OrgRole) -> bool:
    """Invites, changes roles, removes people, reads the audit view."""
    return role >= OrgRole.ADMIN


def may_grant(actor: OrgRole, role: OrgRole) -> bool:
    """Whether ``actor`` may give someone ``role`` (by invitation or by a role change)."""
    return manages(actor) and role <= actor


def may_act_on(actor: OrgRole, target: OrgRole) -> bool:
    """Whether ``actor`` may change the role of, or remove, someone holding ``target``."""
    return manages(actor) and (actor is OrgRole.OWNER or target < actor)
