"""Per-product settings: timezone, link state, audit entries and (Segment) session history."""

from __future__ import annotations

import zoneinfo
from functools import cache

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response as BaseResponse

from product_stubs.kit.db import get_db
from product_stubs.kit.identity import current_user, login_required, profile
from product_stubs.kit.models import AuditEntry, SignIn
from product_stubs.kit.urls import gateway_settings_url

bp = Blueprint("settings", __name__, url_prefix="/settings")


@cache
def timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones() | {"UTC"}))


@bp.get("")
@login_required
def index() -> str:
    user = current_user()
    entries = (
        get_db()
        .scalars(
            select(AuditEntry).where(AuditEntry.user_id == user.id).order_by(AuditEntry.at.desc())
        )
        .all()
    )
    return render_template(
        "kit/settings.html",
        user=user,
        timezones=timezones(),
        audit_entries=entries,
        console_settings_url=gateway_settings_url(),
    )


@bp.post("/timezone")
@login_required
def set_timezone() -> BaseResponse:
    value = request.form.get("timezone", "")
    if value not in timezones():
        abort(400, "Choose a timezone from the list.")
    current_user().timezone = value
    get_db().commit()
    flash(f"Timezone saved: {value}")
    return redirect(url_for("settings.index"))


@bp.get("/sessions")
@login_required
def sessions() -> str:
    if not profile().session_history:
        abort(404)
    sign_ins = (
        get_db()
        .scalars(
            select(SignIn)
            .where(SignIn.user_id == current_user().id)
            .order_by(SignIn.at.desc(), SignIn.id.desc())
            .limit(100)
        )
        .all()
    )
    return render_template("kit/sessions.html", sign_ins=sign_ins)
