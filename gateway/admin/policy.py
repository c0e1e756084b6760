"""The sign-in policy page, for owners: 2FA for everyone, the allowed second factors, session
lifetimes. Every change needs a fresh re-authentication and a reason; the rules and the audit
are in ``gateway.identity.policy_changes``."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue

from gateway.admin.forms import PolicyForm
from gateway.admin.guard import fresh_or_reauthenticate, operator, protect, too_fast
from gateway.identity import policy, policy_changes, roles
from gateway.identity.interventions import NotAllowed, Refused, TooFast
from gateway.identity.policy import Policy

bp = Blueprint("admin_policy", __name__, url_prefix="/admin/policy")
protect(bp)


@bp.before_request
def _owners_only() -> None:
    if not roles.may(operator(), roles.Action.MANAGE_POLICY):
        abort(403)


def _minutes(seconds: int | None) -> int | None:
    return seconds // 60 if seconds is not None else None


def _page(form: PolicyForm, status: int = 200) -> ResponseReturnValue:
    config = current_app.config
    for field, setting in ((form.idle_minutes, "SESSION_IDLE_TIMEOUT"),
                           (form.max_minutes, "SESSION_MAX_AGE")):
        field.description = (f"Empty: the deployment's setting, {_minutes(config[setting])} "
                             "minutes, which is also the longest allowed.")
    return render_template(
        "admin/policy.html", form=form, rules=policy.current(),
        idle_setting=_minutes(config["SESSION_IDLE_TIMEOUT"]),
        max_setting=_minutes(config["SESSION_MAX_AGE"]),
    ), status


@bp.route("")
def show() -> ResponseReturnValue:
    rules = policy.current()
    return _page(PolicyForm(
        require_2fa=rules.require_2fa, allow_totp=rules.allow_totp,
        allow_passkey=rules.allow_passkey, idle_minutes=_minutes(rules.session_idle_seconds),
        max_minutes=_minutes(rules.session_max_seconds)))


@bp.route("", methods=["POST"])
def change() -> ResponseReturnValue:
    form = PolicyForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    stale = fresh_or_reauthenticate(url_for("admin_policy.show"))
    if stale is not None:
        flash("Confirm it is you, then do that again.", "info")
        return stale
    idle, longest = form.idle_minutes.data, form.max_minutes.data
    rules = Policy(require_2fa=bool(form.require_2fa.data), allow_totp=bool(form.allow_totp.data),
                   allow_passkey=bool(form.allow_passkey.data),
                   session_idle_seconds=idle * 60 if idle else None,
                   session_max_seconds=longest * 60 if longest else None)
    try:
        changes = policy_changes.change(operator(), rules, form.reason.data)
    except NotAllowed:
        abort(403)
    except TooFast as fast:
        return too_fast(fast)
    except Refused as refused:
        flash(refused.message, "error")
        return _page(form, 400)
    flash("Policy saved." if changes else "Nothing changed.")
    return redirect(url_for("admin_policy.show"))
