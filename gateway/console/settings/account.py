"""Console settings: overview, sessions, re-authentication, password, activity (audit log)."""

from __future__ import annotations

from functools import partial

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from gateway.console.forms import ActionForm, NewPasswordForm, ReauthForm
from gateway.db import db
from gateway.identity import audit, password_change, reauth, throttle
from gateway.identity.factors import Factor, Status, Use, check_code, second_factors, status
from gateway.identity.passwords import verify_password
from gateway.identity.reauth import fresh_login_required, interrupted
from gateway.identity.sessions import (
    active_sessions,
    end_browser_session,
    is_fresh,
    reauthenticated,
    sign_out,
    sign_out_everywhere,
)
from gateway.models import LoginSession, User
from gateway.products.table import products
from gateway.web.client import client_ip
from gateway.web.errors import retry_message, too_many_attempts
from gateway.web.return_paths import safe_return_path
from gateway.web.user_agents import device_name

bp = Blueprint("settings", __name__, url_prefix="/settings")


@bp.before_request
@login_required
def _signed_in() -> None:
    """Every settings page needs a live session."""


@bp.app_template_global()
def two_factor_status(user: User) -> Status:
    """The account's one 2FA status (``factors.status``), for every page that states it."""
    return status(user)


# The form the re-authentication page was sent from, if one lapsed mid-way (what it says why).
bp.add_app_template_global(interrupted, "interrupted_form")


@bp.route("")
def overview() -> str:
    return render_template("settings/overview.html", user=current_user.user)


@bp.route("/sessions")
def sessions(confirm_all: bool = False) -> str:
    return render_template(
        "settings/sessions.html",
        sessions=active_sessions(current_user.user.id),
        current=current_user.record,
        form=ActionForm(),
        confirm_all=confirm_all,
        # Signing out everywhere leaves passkeys signing in: the question offers their removal
        # (gateway/console/passkeys.py, within the re-authentication window like in settings).
        passkeys=current_user.user.passkeys,
        fresh=is_fresh(current_user.record),
    )


@bp.route("/sessions/<public_id>/revoke", methods=["POST"])
def revoke_session(public_id: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    if not public_id.isascii() or not public_id.isprintable():
        abort(404)  # never a public id, and PostgreSQL refuses NUL in a text parameter
    query = select(LoginSession).where(
        LoginSession.public_id == public_id[:32],
        LoginSession.user_id == current_user.user.id,
        LoginSession.revoked_at.is_(None),
    )
    record = db().scalars(query).first()
    if record is None:
        abort(404)
    sign_out(record, "session_revoked", session=record.public_id)
    if record.id == current_user.record.id:
        end_browser_session()
        flash("This browser is signed out.", "success")
        return redirect(url_for("auth.login"))
    flash(f"Signed out: {device_name(record.user_agent)} ({record.ip_address}).", "success")
    return redirect(url_for("settings.sessions"))


@bp.route("/sessions/revoke-all", methods=["GET", "POST"])
def revoke_all_sessions() -> ResponseReturnValue:
    """Sign out everywhere, this browser included (GET asks first)."""
    if request.method == "GET":
        return sessions(confirm_all=True)
    if not ActionForm().validate_on_submit():
        abort(400)
    user_id = current_user.user.id
    count = sign_out_everywhere(user_id)
    end_browser_session()
    flash(
        f"Signed out everywhere: {count} session{'s' if count != 1 else ''} ended. "
        "Sign in again to continue.",
        "success",
    )
    return redirect(url_for("auth.login"))


@bp.route("/reauthenticate", methods=["GET", "POST"])
def reauthenticate() -> ResponseReturnValue:
    """Confirm the password (and a 2FA code when 2FA is on) to open the freshness window."""
    user = current_user.user
    form = ReauthForm()
    next_path = safe_return_path(request.values.get("next"), default=url_for("settings.overview"))
    form.ask_for(second_factors(user))
    if request.method == "GET" or not form.validate_on_submit():
        code = 400 if request.method == "POST" else 200
        return render_template("settings/reauth.html", form=form, next=next_path), code
    ip = client_ip()
    blocked = throttle.check(user.email, ip)
    if blocked:
        message = retry_message(blocked.retry_after)
        page = render_template("settings/reauth.html", form=form, next=next_path, error=message)
        return too_many_attempts(page, blocked.retry_after)
    have = second_factors(user)
    typed = [f for f in (Factor.TOTP, Factor.RECOVERY_CODE) if f in have]
    ok = verify_password(user.password_hash, form.password.data or "")
    if ok and typed:  # the authenticator's code, or a recovery code (a lost phone or passkey)
        ok = check_code(user, form.code.data or "", Use.REAUTHENTICATE, accept=typed)[1] is not None
    elif ok and have:  # the second factor is a passkey alone: the password alone is not it
        ok = False  # (confirmed with the passkey instead: gateway/console/passkeys.py)
    if not ok:
        reauth.refused(user, ip)
        error = "That did not match. Check your password" + (
            f" and {form.code.label.text.lower()}." if typed else "."
        )
        if have and not typed:
            error = "Confirm with your passkey."
        return render_template("settings/reauth.html", form=form, next=next_path, error=error), 401
    throttle.record_success(user.email)
    reauthenticated(current_user.record)
    return redirect(next_path)


@bp.route("/password", methods=["GET", "POST"])
@fresh_login_required
def change_password() -> ResponseReturnValue:
    user = current_user.user
    form = NewPasswordForm()
    if request.method == "GET" or not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("settings/password.html", form=form), status
    problem = password_change.change(user, current_user.record, form.password.data or "")
    if problem:
        form.password.errors.append(problem)
        return render_template("settings/password.html", form=form), 400
    flash("Password changed. Your other sessions were signed out.", "success")
    return redirect(url_for("settings.overview"))


@bp.route("/activity")
def activity() -> str:
    return render_template(
        "settings/activity.html",
        events=audit.recent_events(current_user.user.id),
        labels=audit.EVENT_LABELS,
        describe=partial(audit.describe, titles=products().titles()),
    )
