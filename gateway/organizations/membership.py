"""Creating an organization, who is in it, role changes and removals.

Every lookup goes through the asking account's own membership (:func:`require`): an
organization the account is not in, or a member id of another organization, is
:class:`~gateway.organizations.errors.NotFound`. Role changes and removals lock the
organization's row first, so two owners demoting each other at once cannot leave it with
none: an organization keeps at least one owner. Each service commits once. A managed
account that leaves or is removed is no longer managed (``gateway.organizations.managed``).
"""

from __future__ import annotations

import re

from sqlalchemy import func, select

from gateway.db import db
from gateway.identity import audit
from gateway.identity.mail import mail_text
from gateway.models import Organization, OrganizationMember, User
from gateway.organizations import managed
from gateway.organizations.errors import NotAllowed, NotFound, Refused
from gateway.organizations.roles import OrgRole, may_act_on, may_grant

NAME_MAX = 100
#: Organization and member ids are 32 lower-case hex digits (128 random bits).
_ID = re.compile(r"[0-9a-f]{32}")
LAST_OWNER = "An organization keeps at least one owner: make someone else an owner first."


def well_formed(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


def checked_name(value: object) -> str:
    """The name as stored: 1 to ``NAME_MAX`` characters on one line (control and format
    characters made spaces, runs of spaces one: it goes into mails and pages)."""
    text = mail_text(value) if isinstance(value, str) else ""
    if not text:
        raise Refused("Give the organization a name.")
    if len(text) > NAME_MAX:
        raise Refused(f"Keep the name under {NAME_MAX} characters.")
    return text


def role_of(member: OrganizationMember) -> OrgRole:
    role = OrgRole.parse(member.role)
    if role is None:  # only a hand-edited row; treat it as the least role
        return OrgRole.MEMBER
    return role


def create(user: User, name: object) -> Organization:
    """A new organization with ``user`` as its owner; commits."""
    organization = Organization(name=checked_name(name))
    session = db()
    session.add(organization)
    session.flush()
    session.add(OrganizationMember(organization_id=organization.id, user_id=user.id,
                                   role=OrgRole.OWNER.label))
    audit.in_organization("organization_created", organization.id, user.id, user.id,
                          name=organization.name)
    session.commit()
    return organization


def organizations_of(user: User) -> list[tuple[Organization, OrgRole]]:
    query = (
        select(Organization, OrganizationMember)
        .join(OrganizationMember, OrganizationMember.organization_id == Organization.id)
        .where(OrganizationMember.user_id == user.id)
        .order_by(Organization.name, Organization.id)
    )
    return [(org, role_of(member)) for org, member in db().execute(query).tuples()]


def require(user: User, organization_id: object, *, manage: bool = False,
            lock: bool = False) -> OrganizationMember:
    """``user``'s membership of the organization (NotFound when there is none); with
    ``manage``, only for an owner or admin (else NotAllowed); with ``lock``, the
    organization's row is locked until the commit (role changes, removals)."""
    if not well_formed(organization_id):
        raise NotFound
    if lock:
        db().execute(select(Organization.id).where(Organization.id == organization_id)
                     .with_for_update())
    member = db().scalars(
        select(OrganizationMember).where(OrganizationMember.organization_id == organization_id,
                                         OrganizationMember.user_id == user.id)
    ).one_or_none()
    if member is None:
        raise NotFound
    if manage and role_of(member) < OrgRole.ADMIN:
        raise NotAllowed
    return member


def require_owner(user: User, organization_id: object) -> OrganizationMember:
    """``user``'s membership, when they own the organization (domains, managed accounts)."""
    me = require(user, organization_id)
    if role_of(me) is not OrgRole.OWNER:
        raise NotAllowed
    return me


def organization(member: OrganizationMember) -> Organization:
    found = db().get(Organization, member.organization_id)
    if found is None:
        raise NotFound
    return found


def members(organization_id: str) -> list[OrganizationMember]:
    """Everyone in the organization, owners first, then by address."""
    query = (
        select(OrganizationMember)
        .join(User, User.id == OrganizationMember.user_id)
        .where(OrganizationMember.organization_id == organization_id)
        .order_by(User.email)
    )
    return sorted(db().scalars(query), key=lambda m: -role_of(m))


def _member_in(organization_id: str, public_id: object) -> OrganizationMember:
    if not well_formed(public_id):
        raise NotFound
    member = db().scalars(
        select(OrganizationMember).where(OrganizationMember.organization_id == organization_id,
                                         OrganizationMember.public_id == public_id)
    ).one_or_none()
    if member is None:
        raise NotFound
    return member


def _owners(organization_id: str) -> int:
    return db().scalar(
        select(func.count()).select_from(OrganizationMember)
        .where(OrganizationMember.organization_id == organization_id,
               OrganizationMember.role == OrgRole.OWNER.label)
    ) or 0


def set_role(actor: User, organization_id: object, public_id: object, value: object) -> bool:
    """Give the member ``public_id`` the role named ``value``; commits. False: it already
    had it."""
    me = require(actor, organization_id, manage=True, lock=True)
    target = _member_in(me.organization_id, public_id)
    role = OrgRole.parse(value)
    if role is None:
        raise Refused("Choose a role: owner, admin or member.")
    mine, theirs = role_of(me), role_of(target)
    if (target.id != me.id and not may_act_on(mine, theirs)) or not may_grant(mine, role):
        raise NotAllowed
    if role is theirs:
        return False
    if theirs is OrgRole.OWNER and _owners(me.organization_id) <= 1:
        raise Refused(LAST_OWNER)
    target.role = role.label
    audit.in_organization("organization_role_changed", me.organization_id, target.user_id,
                          actor.id, role=role.label, previous=theirs.label)
    db().commit()
    return True


def remove(actor: User, organization_id: object, public_id: object) -> OrganizationMember:
    """Take the member ``public_id`` out of the organization (anyone may leave; owners and
    admins remove others by :func:`~gateway.organizations.roles.may_act_on`); commits."""
    me = require(actor, organization_id, lock=True)
    target = _member_in(me.organization_id, public_id)
    if target.id != me.id and not may_act_on(role_of(me), role_of(target)):
        raise NotAllowed
    if role_of(target) is OrgRole.OWNER and _owners(me.organization_id) <= 1:
        raise Refused(LAST_OWNER)
    managed.release(me.organization_id, [target.user])
    db().delete(target)
    audit.in_organization("organization_member_removed", me.organization_id, target.user_id,
                          actor.id, role=target.role)
    db().commit()
    return target
