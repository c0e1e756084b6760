"""Forgot password: ask for a link (``/forgot-password``), open it and set a new password
(``/reset-password``). The rules live in ``gateway.identity.recovery``.

The request page answers the same whether or not an account uses the address, and is
throttled per client (429) and per address (silently: same page, no mail). The link's GET shows
the form; only its POST spends the link. With 2FA on, the same POST needs the authenticator's
code (or a recovery code, ``?use=recovery``); once proven for this link in this browser, a
second try (say the new password was too common) does not ask again. A reset signs this
browser in: the mailbox, the second factor and the new password prove the person.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from gateway.console.auth import REUSED_CODE_ERROR, find_account, finish_login
from gateway.console.forms import EmailForm, ResetPasswordForm, ask_for_recovery_code
from gateway.db import db
from gateway.identity import audit, recovery, throttle
from gateway.identity.addresses import canonical_email
from gateway.identity.factors import Factor, second_factors
from gateway.identity.passwords import policy_problem, verify_password
from gateway.identity.totp import Check
from gateway.models import User
from gateway.web.client import client_ip
from gateway.web.errors import retry_message, too_many_attempts

bp = Blueprint("recovery", __name__)

#: Session key: the reset link (its id) whose second factor this browser already proved.
_PROVEN = "reset_second_factor"


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
        db().commit()
        page = render_template("auth/forgot_password.html", form=form,
                               error=retry_message(blocked.retry_after))
        return too_many_attempts(page, blocked.retry_after)
    recovery.request_reset(email, find_account(email))
    db().commit()
    return render_template("auth/reset_sent.html", email=email)


def _proven_method(data: dict[str, Any]) -> str | None:
    """The second factor this browser proved for this very link (spent with it), if any."""
    proven = session.get(_PROVEN)
    if isinstance(proven, dict) and proven.get("jti") == data["jti"]:
        method = proven.get("method")
        return method if method in {f.value for f in Factor} else None
    return None


def remember_passkey_proof(data: dict[str, Any], amr: list[str]) -> None:
    """A passkey proved the second factor for this link in this browser
    (gateway/console/passkeys.py); ``amr`` is what the session will say after the password."""
    session[_PROVEN] = {"jti": data["jti"], "method": Factor.PASSKEY.value, "amr": amr}


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


@bp.route("/reset-password", methods=["GET", "POST"])
def reset_password() -> ResponseReturnValue:
    token = request.values.get("token", "")
    try:
        user, data = recovery.open_link(token)
    except recovery.ResetLinkError as exc:
        return render_template("auth/reset_problem.html", message=str(exc),
                               form=EmailForm()), 400
    form = ResetPasswordForm()
    factor = None if _proven_method(data) else _factor(user)
    _code_field(form, factor)

    def page(status: int = 200, error: str | None = None) -> tuple[str, int]:
        return render_template(
            "auth/reset_password.html", form=form, token=token, email=user.email,
            factor=factor, offered=[f.value for f in second_factors(user)], error=error,
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
    ip = client_ip()
    if factor is Factor.PASSKEY:  # proven by /reset-password/passkey, never by this form
        return page(401, "Confirm it is you with your passkey first (the button above).")
    if factor is not None:
        blocked = throttle.check(user.email, ip)
        if blocked:
            return too_many_attempts(
                page(error=retry_message(blocked.retry_after))[0], blocked.retry_after
            )
        checked = recovery.prove(user, factor, form.code.data or "")
        if checked is not Check.ACCEPTED:
            throttle.record_failure(user.email, ip)
            audit.record("login_failed", user.id, stage="password_reset")
            db().commit()
            if checked is Check.REUSED:
                return page(401, REUSED_CODE_ERROR)
            return page(401, "That code did not work. Check it and try again.")
        session[_PROVEN] = {"jti": data["jti"], "method": factor.value}
        db().commit()
        factor = None
    # Only after the second factor: otherwise the link would tell whoever reads the mailbox
    # whether a guess is the current password without the second factor.
    if verify_password(user.password_hash, password):
        form.password.errors.append("That is your current password. Choose a new one.")
        return page(400)
    method = _proven_method(data) if user.has_second_factor else None
    recovery.apply_reset(user, data, password)
    methods = ["pwd"] + (_proven_amr(data) or ([method] if method else []))
    return finish_login(user, methods, url_for("console.home"))
