"""Workspaces (Segment) / accounts (SendGrid): members, roles and invitations.

Roles stay in the product. Who may do what is the ``PERMISSIONS`` table; a read-only member
gets 403 on every write action whoever signed them in.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from sqlalchemy import func, select
from werkzeug.wrappers import Response as BaseResponse

from product_stubs.kit.db import get_db
from product_stubs.kit.identity import current_user, login_required
from product_stubs.kit.models import ROLES, Container, Invitation, Item, Membership, utcnow
from product_stubs.kit.profile import ProductProfile
from product_stubs.kit.users import InvalidEmail, normalise_email

PERMISSIONS: dict[str, frozenset[str]] = {
    "view": frozenset(ROLES),
    "create_item": frozenset({"owner", "admin", "member"}),
    "rename": frozenset({"owner", "admin"}),
    "invite": frozenset({"owner", "admin"}),
    "revoke_invitation": frozenset({"owner", "admin"}),
    "change_role": frozenset({"owner", "admin"}),
    "remove_member": frozenset({"owner", "admin"}),
    "delete": frozenset({"owner"}),
}
MAX_NAME = 120


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def membership_for(container_id: int, action: str) -> Membership:
    """The current user's membership, if their role allows ``action`` (404 / 403 otherwise)."""
    db = get_db()
    membership = db.scalar(
        select(Membership).where(
            Membership.container_id == container_id, Membership.user_id == current_user().id
        )
    )
    if membership is None:
        abort(404)
    if membership.role not in PERMISSIONS[action]:
        abort(403)
    return membership


def _name(raw: object) -> str:
    name = raw.strip() if isinstance(raw, str) else ""
    if not name or len(name) > MAX_NAME:
        abort(400, f"A name of 1 to {MAX_NAME} characters is required.")
    return name


def _role(raw: object) -> str:
    if raw not in ROLES:
        abort(400, "Unknown role.")
    assert isinstance(raw, str)
    return raw


def _owners(container_id: int) -> int:
    return (
        get_db().scalar(
            select(func.count()).where(
                Membership.container_id == container_id, Membership.role == "owner"
            )
        )
        or 0
    )


def build(profile: ProductProfile) -> Blueprint:
    """The blueprint, with URLs named after the product's noun (/workspaces or /accounts)."""
    bp = Blueprint("teams", __name__)
    base = f"/{profile.containers}"

    @bp.get("/")
    @login_required
    def home() -> str:
        db = get_db()
        memberships = db.scalars(
            select(Membership).where(Membership.user_id == current_user().id)
        ).all()
        return render_template("kit/home.html", memberships=memberships)

    @bp.post(base)
    @login_required
    def create() -> BaseResponse:
        db = get_db()
        container = Container(name=_name(request.form.get("name")), plan="free")
        db.add(container)
        db.flush()
        db.add(Membership(container_id=container.id, user_id=current_user().id, role="owner"))
        db.commit()
        return redirect(url_for("teams.show", container_id=container.id))

    @bp.get(f"{base}/<int:container_id>")
    @login_required
    def show(container_id: int) -> str:
        membership = membership_for(container_id, "view")
        container = membership.container
        pending = [
            i
            for i in container.invitations
            if i.accepted_at is None and not i.revoked and i.expires_at > utcnow()
        ]
        return render_template(
            "kit/container.html",
            container=container,
            me=membership,
            roles=ROLES,
            invitations=pending,
            can=lambda action: membership.role in PERMISSIONS[action],
        )

    @bp.post(f"{base}/<int:container_id>/items")
    @login_required
    def create_item(container_id: int) -> BaseResponse:
        membership_for(container_id, "create_item")
        db = get_db()
        db.add(Item(container_id=container_id, name=_name(request.form.get("name"))))
        db.commit()
        return redirect(url_for("teams.show", container_id=container_id))

    @bp.post(f"{base}/<int:container_id>/rename")
    @login_required
    def rename(container_id: int) -> BaseResponse:
        membership = membership_for(container_id, "rename")
        membership.container.name = _name(request.form.get("name"))
        get_db().commit()
        return redirect(url_for("teams.show", container_id=container_id))

    @bp.post(f"{base}/<int:container_id>/delete")
    @login_required
    def delete(container_id: int) -> BaseResponse:
        membership = membership_for(container_id, "delete")
        db = get_db()
        db.delete(membership.container)
        db.commit()
        return redirect(url_for("teams.home"))

    @bp.post(f"{base}/<int:container_id>/invitations")
    @login_required
    def invite(container_id: int) -> BaseResponse:
        membership = membership_for(container_id, "invite")
        try:
            email = normalise_email(request.form.get("email", ""))
        except InvalidEmail:
            abort(400, "Enter a valid email address.")
        role = _role(request.form.get("role"))
        if role == "owner" and membership.role != "owner":
            abort(403)
        token = secrets.token_urlsafe(32)
        days = current_app.config["INVITATION_DAYS"]
        db = get_db()
        db.add(
            Invitation(
                container_id=container_id,
                email=email,
                role=role,
                token_hash=token_hash(token),
                invited_by_id=current_user().id,
                expires_at=utcnow() + timedelta(days=days),
            )
        )
        db.commit()
        # A stub has no mail: the inviter passes the link on (shown once).
        link = url_for("teams.invitation", token=token, _external=True)
        flash(f"Invitation for {email} ({role}), valid {days} days: {link}")
        return redirect(url_for("teams.show", container_id=container_id))

    @bp.post(f"{base}/<int:container_id>/invitations/<int:invitation_id>/revoke")
    @login_required
    def revoke(container_id: int, invitation_id: int) -> BaseResponse:
        membership_for(container_id, "revoke_invitation")
        db = get_db()
        invitation = db.get(Invitation, invitation_id)
        if invitation is None or invitation.container_id != container_id:
            abort(404)
        invitation.revoked = True
        db.commit()
        return redirect(url_for("teams.show", container_id=container_id))

    def _target(container_id: int, user_id: str, acting: Membership) -> Membership:
        target = get_db().scalar(
            select(Membership).where(
                Membership.container_id == container_id, Membership.user_id == user_id[:64]
            )
        )
        if target is None:
            abort(404)
        if target.role == "owner" and acting.role != "owner":
            abort(403)
        return target

    @bp.post(f"{base}/<int:container_id>/members/<user_id>/role")
    @login_required
    def change_role(container_id: int, user_id: str) -> BaseResponse:
        acting = membership_for(container_id, "change_role")
        target = _target(container_id, user_id, acting)
        role = _role(request.form.get("role"))
        if role == "owner" and acting.role != "owner":
            abort(403)
        if target.role == "owner" and role != "owner" and _owners(container_id) <= 1:
            abort(409, "A workspace needs at least one owner.")
        target.role = role
        get_db().commit()
        return redirect(url_for("teams.show", container_id=container_id))

    @bp.post(f"{base}/<int:container_id>/members/<user_id>/remove")
    @login_required
    def remove_member(container_id: int, user_id: str) -> BaseResponse:
        acting = membership_for(container_id, "remove_member")
        target = _target(container_id, user_id, acting)
        if target.role == "owner" and _owners(container_id) <= 1:
            abort(409, "The last owner cannot be removed.")
        db = get_db()
        db.delete(target)
        db.commit()
        return redirect(url_for("teams.show", container_id=container_id))

    def _open_invitation(token: str) -> Invitation:
        invitation = get_db().scalar(
            select(Invitation).where(Invitation.token_hash == token_hash(token[:100]))
        )
        if invitation is None or invitation.revoked or invitation.accepted_at is not None:
            abort(404)
        if invitation.expires_at <= utcnow():
            abort(410, "This invitation has expired.")
        return invitation

    @bp.get("/invitations/<token>")
    @login_required
    def invitation(token: str) -> str:
        return render_template("kit/invitation.html", invitation=_open_invitation(token))

    @bp.post("/invitations/<token>/accept")
    @login_required
    def accept(token: str) -> BaseResponse:
        invitation = _open_invitation(token)
        user = current_user()
        if invitation.email != user.email:
            abort(403, "This invitation was sent to another email address.")
        db = get_db()
        existing = db.scalar(
            select(Membership).where(
                Membership.container_id == invitation.container_id,
                Membership.user_id == user.id,
            )
        )
        if existing is None:
            db.add(
                Membership(
                    container_id=invitation.container_id, user_id=user.id, role=invitation.role
                )
            )
        invitation.accepted_at = utcnow()
        db.commit()
        return redirect(url_for("teams.show", container_id=invitation.container_id))

    return bp
