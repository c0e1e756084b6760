"""Mailed invitations into an organization, and accepting them.

An invitation names an address, not an account: the account that signs in (or signs up and
confirms) with that address accepts it, from the link in the mail or from its organizations
page. Acceptance needs that address verified and is one explicit step (a POST), never
automatic: an address is not consent. Invitations expire after ``INVITATION_DAYS``; asking
again for the same address renews the one invitation (and its mail goes through the
per-recipient cap, so an admin cannot flood an inbox). ``MAX_PENDING`` bounds how many
addresses one organization can have mailed and waiting.
"""

from __future__ import annotations

from datetime import timedelta

from flask import current_app, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.db import db
from gateway.identity import audit
from gateway.identity.addresses import canonical_email
from gateway.identity.mail import mail_text, send_mail
from gateway.models import (
    Organization,
    OrganizationInvitation,
    OrganizationMember,
    User,
    utcnow,
)
from gateway.organizations.errors import NotAllowed, NotFound, Refused
from gateway.organizations.membership import organization, require, role_of, well_formed
from gateway.organizations.roles import OrgRole, may_grant

INVITATION_DAYS = 14
MAX_PENDING = 200


def pending(organization_id: str) -> list[OrganizationInvitation]:
    query = (
        select(OrganizationInvitation)
        .where(OrganizationInvitation.organization_id == organization_id,
               OrganizationInvitation.expires_at > utcnow())
        .order_by(OrganizationInvitation.email)
    )
    return list(db().scalars(query))


def for_account(user: User) -> list[OrganizationInvitation]:
    """Live invitations to the account's own (verified) address."""
    if not user.is_verified:
        return []
    query = (
        select(OrganizationInvitation)
        .where(OrganizationInvitation.email == user.email,
               OrganizationInvitation.expires_at > utcnow())
        .order_by(OrganizationInvitation.created_at)
    )
    return list(db().scalars(query))


def invite(actor: User, organization_id: object, email: object, role_value: object) -> bool:
    """Invite ``email`` with the role named ``role_value``; commits. Returns whether the mail
    was queued (False: the address's hourly mail cap is spent; the invitation stands)."""
    me = require(actor, organization_id, manage=True)
    address = canonical_email(email)
    if address is None:
        raise Refused("Enter an email address, like name@example.com.")
    role = OrgRole.parse(role_value)
    if role is None:
        raise Refused("Choose a role: owner, admin or member.")
    if not may_grant(role_of(me), role):
        raise NotAllowed
    org = organization(me)
    session = db()
    already = session.scalar(
        select(OrganizationMember.id).join(User, User.id == OrganizationMember.user_id)
        .where(OrganizationMember.organization_id == org.id, User.email == address)
    )
    if already is not None:
        raise Refused("That address already belongs to a member.")
    invitation = session.scalars(
        select(OrganizationInvitation).where(OrganizationInvitation.organization_id == org.id,
                                             OrganizationInvitation.email == address)
    ).one_or_none()
    if invitation is None:
        if len(pending(org.id)) >= MAX_PENDING:
            raise Refused(f"At most {MAX_PENDING} invitations can wait at once: withdraw some.")
        invitation = OrganizationInvitation(organization_id=org.id, email=address)
        session.add(invitation)
    invitation.role = role.label
    invitation.invited_by_id = actor.id
    invitation.created_at = utcnow()
    invitation.expires_at = utcnow() + timedelta(days=INVITATION_DAYS)
    session.flush()
    queued = send_mail(address, f"Invitation to join {mail_text(org.name)}", _body(org, invitation))
    audit.in_organization("organization_member_invited", org.id, None, actor.id,
                          email=address, role=role.label)
    session.commit()
    return queued


def _body(org: Organization, invitation: OrganizationInvitation) -> str:
    link = current_app.config["PUBLIC_URL"] + url_for("organizations.invitation",
                                                       invitation_id=invitation.id)
    return (
        f"You are invited to join the organization {mail_text(org.name)} as "
        f"{invitation.role}.\n\n"
        f"Sign in with this address (or create an account with it and confirm it), then "
        f"accept the invitation here:\n{link}\n\n"
        f"The invitation expires in {INVITATION_DAYS} days. If you did not expect it, "
        f"ignore this mail: nothing happens unless you accept."
    )


def revoke(actor: User, organization_id: object, invitation_id: object) -> None:
    """Withdraw an invitation of the organization; commits."""
    me = require(actor, organization_id, manage=True)
    invitation = _invitation(invitation_id)
    if invitation is None or invitation.organization_id != me.organization_id:
        raise NotFound
    role = OrgRole.parse(invitation.role) or OrgRole.OWNER
    if not may_grant(role_of(me), role):
        raise NotAllowed
    db().delete(invitation)
    audit.in_organization("organization_invitation_revoked", me.organization_id, None,
                          actor.id, email=invitation.email)
    db().commit()


def _invitation(invitation_id: object) -> OrganizationInvitation | None:
    if not well_formed(invitation_id):
        return None
    return db().get(OrganizationInvitation, invitation_id)


def addressed_to(user: User, invitation_id: object) -> OrganizationInvitation:
    """The invitation, when it is to ``user``'s verified address (else NotFound: the
    link of someone else's invitation shows nothing)."""
    invitation = _invitation(invitation_id)
    if invitation is None or not user.is_verified or invitation.email != user.email:
        raise NotFound
    return invitation


def accept(user: User, invitation_id: object) -> Organization:
    """Join the organization the invitation is for, with its role; commits."""
    invitation = addressed_to(user, invitation_id)
    if invitation.expires_at <= utcnow():
        raise Refused("This invitation has expired: ask the organization for a new one.")
    org = invitation.organization
    session = db()
    role = invitation.role
    session.delete(invitation)
    try:
        with session.begin_nested():
            session.add(OrganizationMember(organization_id=org.id, user_id=user.id, role=role))
    except IntegrityError:
        # Already a member (two tabs, or joined some other way): the invitation is spent.
        session.commit()
        return org
    audit.in_organization("organization_joined", org.id, user.id, user.id, role=role)
    session.commit()
    return org

