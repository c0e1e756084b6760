"""Forgot password: ask for a link (``/forgot-password``), open it and set a new password
(``/reset-password``). The rules live in ``gateway.identity.recovery``.

The request page answers the same whether or not an account uses the address, and is
throttled per client (429) and per address (silently: same page, no mail). The link's GET shows
the form; only its POST spends the link. With 2FA on, the same POST needs the authenticator's
code (or a recovery code, ``?use=recovery``); once proven for this link in this browser, a
second try (say the new password was too common) does not ask again. A reset signs this
browser in: the mailbox, the second factor and the new password prove the person.

The page lists the account's passkeys, each with a "remove" box: a reset ends sessions, not
passkeys, and an intruder's passkey would keep signing in. The boxes take effect only with
the reset itself (the same CSRF-protected POST, after the link and the second factor), and
the first page after it says what went: passkeys, 2FA when that was the last factor, and a
pending email change (a reset stops it, ``propagation.cancel_pending``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from gateway.console.auth import REUSED_CODE_ERROR
from gateway.console.forms import EmailForm, ResetPasswordForm, ask_for_recovery_code
from gateway.identity import passkeys, recovery, throttle
from gateway.identity.addresses import canonical_email
from gateway.identity.factors import Factor, second_factors
from gateway.identity.passwords import policy_problem, verify_password
from gateway.identity.signin import find_account, finish
from gateway.identity.totp import Check
from gateway.models import PasskeyCredential, User
from gateway.products import propagation
from gateway.web.client import client_ip
from gateway.web.errors import retry_message, too_many_attempts

bp = Blueprint("recovery", __name__)

_PROVEN = recovery.PROVEN
#: Form field: the public id of a passkey to remove with the reset (one per ticked box).
_REMOVE = "remove_passkey"


@bp.route("/forgot-password", methods=["GET", "POST"])
def forgot_password() -> ResponseReturnValue:
    form = EmailForm()
    if request.method == "GET":
        form.email.data = canonical_email(request.args.get("email")) or ""
        return render_template("auth/forgot_password.html", form=form)
    email = canonical_email(form.email.data) if form.validate_on_submit() else None
    if email is None:
        form.email.errors = ["Enter a valid email address, like name@example.com."]
        return render_template("auth/forgot_password.html", form=form), 400
    blocked = throttle.client_action("reset", client_ip())
    if blocked:
        page = render_template("auth/forgot_password.html", form=form,
                               error=retry_message(blocked.retry_after))
        return too_many_attempts(page, blocked.retry_after)
    recovery.request_reset(email, find_account(email))
    return render_template("auth/reset_sent.html", email=email)


def _proven_method(data: dict[str, Any]) -> str | None:
    """The second factor this browser proved for this very link (spent with it), if any."""
    proven = session.get(_PROVEN)
    if isinstance(proven, dict) and proven.get("jti") == data["jti"]:
        method = proven.get("method")
        return method if method in {f.value for f in Factor} else None
    return None


def _proven_amr(data: dict[str, Any]) -> list[str]:
    """The RFC 8176 values a passkey proof recorded (without "pwd"), else []."""
    proven = session.get(_PROVEN)
    if _proven_method(data) != Factor.PASSKEY.value or not isinstance(proven, dict):
        return []
    amr = proven.get("amr")
    return [m for m in amr if m != "pwd"] if isinstance(amr, list) else []


def _factor(user: User) -> Factor | None:
    """The second factor this page asks for, or None when none is needed (any more)."""
    factors = second_factors(user)
    if not factors:
        return None
    wanted = {"recovery": Factor.RECOVERY_CODE, "passkey": Factor.PASSKEY}.get(
        request.args.get("use", ""), Factor.TOTP
    )
    return wanted if wanted in factors else factors[0]


def _code_field(form: ResetPasswordForm, factor: Factor | None) -> None:
    if factor is Factor.RECOVERY_CODE:
        ask_for_recovery_code(form.code)
    else:
        form.code.description = "The 6-digit code from your authenticator app."
        form.code.render_kw = {"autocomplete": "one-time-code", "inputmode": "numeric",
                               "spellcheck": "false", "autocapitalize": "off"}


def _link_problem(exc: recovery.ResetLinkError) -> ResponseReturnValue:
    return render_template("auth/reset_problem.html", message=str(exc), form=EmailForm()), 400


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password() -> ResponseReturnValue:
    token = request.values.get("token", "")
    try:
        user, data = recovery.open_link(token)
    except recovery.ResetLinkError as exc:
        return _link_problem(exc)
    form = ResetPasswordForm()
    factor = None if _proven_method(data) else _factor(user)
    _code_field(form, factor)

    def page(status: int = 200, error: str | None = None) -> tuple[str, int]:
        return render_template(
            "auth/reset_password.html", form=form, token=token, email=user.email,
            factor=factor, offered=[f.value for f in second_factors(user)], error=error,
            passkeys=user.passkeys, chosen=request.form.getlist(_REMOVE),
            twofactor_app=user.has_2fa,
        ), status

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        return page(400)
    password = form.password.data or ""
    problem = policy_problem(password, user.email)
    if problem:  # before the second factor: a refused password spends no code
        form.password.errors.append(problem)
        return page(400)
    remove = _chosen_passkeys(user)
    if remove is None:
        return page(400, "One of the passkeys to remove is not on this account. Reload the page.")
    ip = client_ip()
    if factor is Factor.PASSKEY:  # proven by /reset-password/passkey, never by this form
        return page(401, "Confirm it is you with your passkey first (the button above).")
    if factor is not None:
        # The link and the code pass the account lock (a stranger may have set it off);
        # wrong codes are counted per client and per link.
        proof, link = throttle.Proof.LINK_AND_SECOND_FACTOR, data["jti"]
        blocked = throttle.check(user.email, ip, proof, link)
        if blocked:
            return too_many_attempts(
                page(error=retry_message(blocked.retry_after))[0], blocked.retry_after
            )
        checked = recovery.prove(user, factor, form.code.data or "", ip, link, session)
        if checked is Check.REUSED:
            return page(401, REUSED_CODE_ERROR)
        if checked is not Check.ACCEPTED:
            return page(401, "That code did not work. Check it and try again.")
        factor = None
    # Only after the second factor: otherwise the link would tell whoever reads the mailbox
    # whether a guess is the current password without the second factor.
    if verify_password(user.password_hash, password):
        form.password.errors.append("That is your current password. Choose a new one.")
        return page(400)
    method = _proven_method(data) if user.has_second_factor else None
    try:
        recovery.spend_link(data)  # first of this request's writes: a lost race leaves none
    except recovery.ResetLinkError as exc:  # another request spent the link meanwhile
        return _link_problem(exc)
    stopped = propagation.cancel_pending(user, by="password_reset")
    stopped_email = stopped.new_email if stopped else None
    twofactor_off = recovery.apply_reset(user, password, remove, stopped_email)
    methods = ["pwd"] + (_proven_amr(data) or ([method] if method else []))
    response = finish(user, methods, url_for("console.home"))
    _tell(remove, twofactor_off, stopped_email)
    return response


def _chosen_passkeys(user: User) -> list[PasskeyCredential] | None:
    """The account's passkeys ticked for removal on the reset page; None when a value is not
    one of them (a stale page or a forged form: nothing is done)."""
    chosen: list[PasskeyCredential] = []
    values = request.form.getlist(_REMOVE)
    if len(values) > 100:
        return None
    for public_id in values:
        credential = passkeys.find(user, public_id)
        if credential is None or credential.public_id != public_id:
            return None
        if credential not in chosen:
            chosen.append(credential)
    return chosen


def _tell(removed: list[PasskeyCredential], twofactor_off: bool, stopped: str | None) -> None:
    """What the reset changed besides the password, on the first page after it (the notice
    mail says it too)."""
    if removed:
        names = ", ".join(f'"{credential.name}"' for credential in removed)
        flash(f"Passkeys removed: {names}.", "success")
    if twofactor_off:
        flash("Two-factor authentication is off: that was your last passkey, and its recovery "
              "codes are deleted. Turn it on again in settings.", "info")
    if stopped:
        flash(f"The pending change of your email address to {stopped} was stopped.", "info")
