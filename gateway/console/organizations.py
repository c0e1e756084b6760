"""Organization pages under ``/organizations/``: your organizations and invitations, one
organization's members and invitations, its audit view.

Views parse, call one service of ``gateway.organizations`` and render or redirect. A
refusal maps the same way everywhere (:func:`answer`): not in the organization or no such
id -> 404, role too low -> 403, a rule (the last owner) -> the page again with the reason;
nothing is changed in any of them. Role changes and removals need a fresh re-authentication.
"""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from gateway.console.forms import (
    ActionForm,
    DomainForm,
    InvitationForm,
    OrganizationForm,
    OrgRoleForm,
)
from gateway.identity.sessions import is_fresh
from gateway.models import Organization, OrganizationMember, User
from gateway.organizations import activity, domains, invitations, membership
from gateway.organizations.errors import NotAllowed, NotFound, Refused
from gateway.organizations.roles import OrgRole, manages, may_act_on

bp = Blueprint("organizations", __name__, url_prefix="/organizations")


def viewer() -> User:
    """The signed-in person (every view here is ``login_required``)."""
    user: User = current_user.user
    return user


def owned(organization_id: str) -> Organization:
    """The organization, when the signed-in person owns it: 404 for one they are not a
    member of (its existence is not told), 403 for one they belong to without owning it.
    The owners-only pages (domains, managed accounts, single sign-on, SCIM) start here."""
    try:
        return membership.organization(membership.require_owner(viewer(), organization_id))
    except NotFound:
        abort(404)
    except NotAllowed:
        abort(403)


#: What a service call did: the message to show (None: nothing changed) and where to go
#: (None: back where the person came from).
Done = tuple[str | None, str | None]


def answer(back: str, work: Callable[[], Done]) -> Response:
    """Run a service; map its refusals; flash what happened and go on."""
    try:
        message, to = work()
    except NotFound:
        abort(404)
    except NotAllowed:
        abort(403)
    except Refused as refused:
        flash(refused.message, "error")
        return redirect(back)
    if message:
        flash(message, "success")
    return redirect(to or back)


def page_of(organization_id: str) -> str:
    return url_for("organizations.show", organization_id=organization_id)


@bp.get("/")
@login_required
def index() -> str:
    user = viewer()
    return render_template(
        "organizations/index.html", mine=membership.organizations_of(user),
        invited=invitations.for_account(user), form=OrganizationForm(), accept=ActionForm(),
    )


@bp.post("/")
@login_required
def create() -> ResponseReturnValue:
    form = OrganizationForm()
    if not form.validate_on_submit():
        return render_template(
            "organizations/index.html", mine=membership.organizations_of(viewer()),
            invited=invitations.for_account(viewer()), form=form, accept=ActionForm(),
        ), 400

    def work() -> Done:
        created = membership.create(viewer(), form.name.data)
        return "Organization created: you are its owner.", page_of(created.id)

    return answer(url_for("organizations.index"), work)


def _load(organization_id: str) -> tuple[OrganizationMember, Organization]:
    try:
        me = membership.require(viewer(), organization_id)
        return me, membership.organization(me)
    except NotFound:
        abort(404)


@bp.get("/<organization_id>")
@login_required
def show(organization_id: str) -> str:
    me, org = _load(organization_id)
    mine = membership.role_of(me)
    people = membership.members(org.id)

    def acts_on(member: OrganizationMember) -> bool:
        return member.id == me.id or may_act_on(mine, membership.role_of(member))

    return render_template(
        "organizations/show.html", org=org, me=me, role=mine, manages=manages(mine),
        members=people, role_of=membership.role_of, acts_on=acts_on,
        pending=invitations.pending(org.id) if manages(mine) else [],
        domains=domains.of(org.id) if mine is OrgRole.OWNER else [],
        domain_form=DomainForm(), record_name=domains.record_name,
        record_value=domains.record_value,
        invite_form=InvitationForm(), action=ActionForm(),
        role_forms={m.public_id: OrgRoleForm(prefix=m.public_id, role=m.role) for m in people},
        roles=[r.label for r in OrgRole],
    )


@bp.post("/<organization_id>/invitations")
@login_required
def invite(organization_id: str) -> Response:
    form = InvitationForm()
    if not form.validate_on_submit():
        abort(400)

    def work() -> Done:
        queued = invitations.invite(viewer(), organization_id, form.email.data, form.role.data)
        return ("Invitation mailed." if queued else
                "Invitation saved, but not mailed: this address has had its mails for this "
                "hour. Send it again later."), None

    return answer(page_of(organization_id), work)


@bp.post("/<organization_id>/invitations/<invitation_id>/revoke")
@login_required
def revoke(organization_id: str, invitation_id: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)

    def work() -> Done:
        invitations.revoke(viewer(), organization_id, invitation_id)
        return "Invitation withdrawn.", None

    return answer(page_of(organization_id), work)


def stale(back: str) -> Response | None:
    if is_fresh(current_user.record):
        return None
    flash("Confirm it is you, then do that again.", "info")
    return redirect(url_for("settings.reauthenticate", next=back))


@bp.post("/<organization_id>/members/<member_id>/role")
@login_required
def change_role(organization_id: str, member_id: str) -> Response:
    form = OrgRoleForm(prefix=member_id)
    if not form.validate_on_submit():
        abort(400)
    back = page_of(organization_id)

    def work() -> Done:
        changed = membership.set_role(viewer(), organization_id, member_id, form.role.data)
        return (f"Role changed to {form.role.data}." if changed else None), None

    return stale(back) or answer(back, work)


@bp.post("/<organization_id>/members/<member_id>/remove")
@login_required
def remove(organization_id: str, member_id: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    back = page_of(organization_id)

    def work() -> Done:
        gone = membership.remove(viewer(), organization_id, member_id)
        if gone.user_id == viewer().id:  # left: the organization's page is a 404 to them now
            return "You left the organization.", url_for("organizations.index")
        return "Member removed.", None

    return stale(back) or answer(back, work)


@bp.get("/<organization_id>/audit")
@login_required
def audit(organization_id: str) -> str:
    try:
        me = membership.require(viewer(), organization_id, manage=True)
    except NotFound:
        abort(404)
    except NotAllowed:
        abort(403)
    org = membership.organization(me)
    return render_template("organizations/audit.html", org=org,
                           entries=activity.entries(org.id))


@bp.get("/invitations/<invitation_id>")
@login_required
def invitation(invitation_id: str) -> str:
    try:
        found = invitations.addressed_to(viewer(), invitation_id)
    except NotFound:
        abort(404)
    return render_template("organizations/invitation.html", invitation=found, form=ActionForm())


@bp.post("/invitations/<invitation_id>/accept")
@login_required
def accept(invitation_id: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    def work() -> Done:
        org = invitations.accept(viewer(), invitation_id)
        return f"You joined {org.name}.", page_of(org.id)

    return answer(url_for("organizations.index"), work)
