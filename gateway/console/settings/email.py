"""Console settings pages for changing the email address (the saga is in propagation.py).

Requests are counted per account (``EMAIL_CHANGE_MAX_PER_HOUR``, then 429): the answer says
whether an address is taken, so one account must not probe address after address.
An account its organization manages keeps an address at the organization's verified domains
(``gateway.organizations.managed.address_refusal``), checked at the request and again at the
confirmation.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from gateway.console.forms import ActionForm, EmailForm
from gateway.identity import throttle, tokens
from gateway.identity.addresses import canonical_email
from gateway.identity.reauth import fresh_login_required
from gateway.organizations import managed
from gateway.products import propagation
from gateway.web.errors import retry_message, too_many_attempts

bp = Blueprint("email_settings", __name__, url_prefix="/settings/email")


@bp.route("", methods=["GET", "POST"])
@fresh_login_required(keep=("email",))
def change() -> ResponseReturnValue:
    user = current_user.user
    form = EmailForm()
    form.email.label.text = "New email address"
    if request.method == "GET":
        return render_template("settings/email.html", form=form, user=user)
    if not form.validate_on_submit():
        return render_template("settings/email.html", form=form, user=user), 400
    new_email = canonical_email(form.email.data)
    if new_email is None:
        form.email.errors = ["Enter a valid email address, like name@example.com."]
        return render_template("settings/email.html", form=form, user=user), 400
    refusal = managed.address_refusal(user, new_email)
    if refusal is not None:  # tells nothing about other accounts: not counted
        form.email.errors = [refusal]
        return render_template("settings/email.html", form=form, user=user), 403
    blocked = throttle.per_account(  # counted whatever the answer (its own transaction)
        "email-change", user.id, current_app.config["EMAIL_CHANGE_MAX_PER_HOUR"]
    )
    if blocked:
        page = render_template("settings/email.html", form=form, user=user,
                               error=retry_message(blocked.retry_after))
        return too_many_attempts(page, blocked.retry_after)
    try:
        propagation.request_change(user, new_email)
    except propagation.EmailChangeError as exc:
        if exc.refusal is propagation.Refusal.UNAVAILABLE:  # not the address's fault
            return render_template(
                "settings/email.html", form=form, user=user, error=exc.message
            ), STATUS[exc.refusal]
        form.email.errors = [exc.message]  # about the address typed: said at its field
        return render_template("settings/email.html", form=form, user=user), STATUS[exc.refusal]
    return render_template("settings/email_sent.html", new_email=new_email, user=user)


#: How a refused change is answered.
STATUS = {
    propagation.Refusal.INVALID: 400,
    propagation.Refusal.CONFLICT: 409,
    propagation.Refusal.UNAVAILABLE: 503,
}


@bp.route("/confirm", methods=["GET", "POST"])
def confirm() -> ResponseReturnValue:
    """GET shows a confirm button (mail scanners prefetch links); POST applies the change."""
    if not current_user.is_authenticated:
        # Signed out: say what the link needs, and come back to it after signing in.
        flash("Sign in to finish changing your email address. Your link keeps working "
              "until it expires.", "info")
        return redirect(url_for("auth.login", next=request.full_path))
    token = request.values.get("token", "")
    try:
        data = tokens.read_token(propagation.TOKEN_PURPOSE, token)
    except tokens.TokenExpired:
        return _problem("This link has expired. Ask for a new one in settings.", 400)
    except tokens.TokenInvalid:
        return _problem("This link is not valid. Check that you copied all of it.", 400)
    form = ActionForm()
    if request.method == "GET":
        change = propagation.pending_change(data)
        return render_template("settings/email_confirm.html", form=form, token=token,
                               change=change, user=current_user.user)
    if not form.validate_on_submit():
        return _problem("The form expired. Open the link again.", 400)
    user, pending = current_user.user, propagation.pending_change(data)
    refusal = managed.address_refusal(user, pending.new_email) \
        if pending is not None and pending.user_id == user.id else None
    if refusal is not None:  # asked for before an organization took the account under
        return _problem(refusal, 403)
    try:
        change = propagation.confirm_change(user, data)
    except propagation.EmailChangeError as exc:
        return _problem(exc.message, STATUS[exc.refusal])
    except tokens.TokenUsed:
        return _problem("This link was already used.", 400)
    return render_template("settings/email_changed.html", change=change)


@bp.route("/cancel", methods=["GET", "POST"])
def cancel() -> ResponseReturnValue:
    """The old address's way to stop a pending change: GET asks (mail scanners prefetch
    links), POST stops it. The link itself proves the old mailbox; no sign-in needed."""
    token = request.values.get("token", "")
    try:
        data = tokens.read_token(propagation.CANCEL_PURPOSE, token)
    except tokens.TokenExpired:
        return _problem("This link has expired: the change it was about has expired too.", 400)
    except tokens.TokenInvalid:
        return _problem("This link is not valid. Check that you copied all of it.", 400)
    form = ActionForm()
    if request.method == "GET":
        change = propagation.pending_change(data)
        return render_template("settings/email_cancel.html", form=form, token=token,
                               change=change)
    if not form.validate_on_submit():
        return _problem("The form expired. Open the link again.", 400)
    change = propagation.cancel_change(data)
    if change is None:
        return _problem("There is no pending change to stop: it was already confirmed, "
                        "stopped or expired. Check your email address in settings.", 409)
    return render_template("settings/email_cancelled.html", change=change)


def _problem(message: str, status: int) -> ResponseReturnValue:
    return render_template("settings/email_problem.html", message=message,
                           settings=url_for("email_settings.change")), status
