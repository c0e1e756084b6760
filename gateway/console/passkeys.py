"""Passkeys in the Console: options for the browser (JSON), then ordinary form posts.

``gateway/static/webauthn.js`` asks ``/passkeys/options/<purpose>`` for the options, runs the
browser's ceremony, and submits the page's form with the credential as JSON; the views below
answer those posts like the password forms do (redirects, or the page again with an error).

* ``/login/passkey``: passwordless sign-in (throttled, audited, new-device notice and session
  rules of password sign-in: :func:`gateway.identity.signin.finish`);
* ``/login/2fa/passkey``: a passkey instead of the TOTP code at the second step;
* ``/settings/reauthenticate/passkey``: re-authentication before sensitive changes;
* ``/reset-password/passkey``: the second factor of a password reset (with the mailed link);
* ``/settings/passkeys``: list, add, rename, remove (after re-authentication). Adding or
  removing one ends the other sessions and sends a notice; the passkey that turns 2FA on
  answers with recovery codes (recovery cannot be skipped: issue 22); removing the last second
  factor turns 2FA off and drops the codes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from gateway.console.forms import (
    ActionForm,
    LoginCodeForm,
    LoginForm,
    ReauthForm,
    ResetPasswordForm,
)
from gateway.console.settings.twofactor import codes_page
from gateway.identity import passkey_changes, passkeys, policy, recovery, signin, throttle
from gateway.identity.factors import Factor, second_factors
from gateway.identity.passkeys import PasskeyRefused, Purpose, Refusal
from gateway.identity.reauth import fresh_login_required
from gateway.identity.sessions import is_fresh, reauthenticated
from gateway.identity.signin import Outcome, PendingSignIn
from gateway.models import User
from gateway.web import support
from gateway.web.client import client_ip
from gateway.web.errors import retry_message, too_many_attempts
from gateway.web.return_paths import safe_return_path

bp = Blueprint("passkeys", __name__)

SIGN_IN_ERROR = "That passkey did not work. Try again, or sign in with your email and password."
SECOND_FACTOR_ERROR = "That passkey did not work. Try again, or use a code."
REAUTH_ERROR = "That passkey did not work. Try again, or confirm with your password."


@bp.record_once
def _check_configuration(state: BlueprintSetupState) -> None:
    """A relying-party id that does not match the origin is refused at start-up."""
    passkeys.check_configuration(state.app.config)


@bp.app_context_processor
def _passkeys_enabled() -> dict[str, Any]:
    return {"passkeys_enabled": passkeys.relying_party(current_app.config) is not None}


@bp.app_template_global()
def pending_second_factors() -> dict[str, bool]:
    """What the 2FA step offers the person signing in: a passkey, the TOTP code, or both;
    ``recovery``: whether a recovery code is left (the way out is offered either way)."""
    pending = PendingSignIn().user()
    if pending is None:
        return {"passkey": False, "totp": True, "recovery": True}
    factors = second_factors(pending[0])
    return {"passkey": Factor.PASSKEY in factors and passkeys.enabled(),
            "totp": Factor.TOTP in factors, "recovery": Factor.RECOVERY_CODE in factors}


def _json_error(message: str, status: int) -> Response:
    response = jsonify(error=message)
    response.status_code = status
    return response


@bp.post("/passkeys/options/<purpose>")
def options(purpose: str) -> ResponseReturnValue:
    """The options for one ceremony; its challenge is bound to this browser session."""
    if not ActionForm().validate_on_submit():  # the CSRF token (X-CSRFToken header)
        return _json_error("The page expired. Reload it and try again.", 400)
    if not passkeys.enabled():
        return _json_error("Passkeys are not available on this address.", 404)
    if purpose == Purpose.LOGIN:
        body = passkeys.authentication_options(Purpose.LOGIN, None)
    elif purpose == Purpose.SECOND_FACTOR:
        pending = PendingSignIn().user()
        if pending is None or not pending[0].passkeys:
            return _json_error("Start again from the sign-in page.", 401)
        body = passkeys.authentication_options(Purpose.SECOND_FACTOR, pending[0])
    elif purpose == Purpose.RESET:
        user = _reset_user()
        if user is None:
            return _json_error("This reset link does not work any more.", 400)
        body = passkeys.authentication_options(Purpose.RESET, user)
    elif purpose in (Purpose.REAUTH, Purpose.REGISTER):
        if not current_user.is_authenticated:
            return _json_error("Sign in first.", 401)
        user = current_user.user
        if purpose == Purpose.REAUTH:
            if not user.passkeys:
                return _json_error("This account has no passkey.", 400)
            body = passkeys.authentication_options(Purpose.REAUTH, user)
        elif not is_fresh(current_user.record):
            return _json_error("Confirm it is you first (reload the page).", 403)
        else:
            body = passkeys.registration_options(user)
    else:
        abort(404)
    response = current_app.response_class(body, mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    return response


def _refusal_status(refused: PasskeyRefused) -> int:
    return 400 if refused.refusal is Refusal.MALFORMED else 401


def _failed(
    refused: PasskeyRefused, account: str, ip: str, stage: str, link: str | None = None
) -> None:
    """Count and audit a refused passkey like a wrong password (``signin.failed`` commits)."""
    signin.failed(refused.user, account, ip, stage, link, reason=refused.refusal.value)
    current_app.logger.info("passkey refused (%s): %s", stage, refused)


def _proven(
    purpose: Purpose,
    user: User,
    stage: str,
    page: Callable[[int, str], tuple[str, int]],
    error: str,
    link: str | None = None,
) -> tuple[Any, ResponseReturnValue | None]:
    """A known person proves a passkey (2FA step, reset with its ``link`` id,
    re-authentication): the form's CSRF token, the client (and link) throttle, then the
    ceremony; a refusal counts like a wrong password. A passkey passes the account lock and
    its success lifts it (``throttle.Proof``). Returns the library's result, or the page to
    answer with instead."""
    if not ActionForm().validate_on_submit():
        return None, page(400, "The page expired. Try again.")
    ip = client_ip()
    blocked = throttle.check(user.email, ip, throttle.Proof.PASSKEY, link)
    if blocked:
        refused_page = page(429, retry_message(blocked.retry_after))[0]
        return None, too_many_attempts(refused_page, blocked.retry_after)
    try:
        result = passkeys.authenticate(purpose, request.form.get("credential", ""), user)
    except PasskeyRefused as refused:
        refused.user = user
        _failed(refused, user.email, ip, stage, link)
        return None, page(_refusal_status(refused), error)
    throttle.record_success(user.email, user.id, by=stage)
    return result, None


# ----- passwordless sign-in ------------------------------------------------------------------

@bp.post("/login/passkey")
def login() -> ResponseReturnValue:
    next_path = safe_return_path(request.form.get("next"), default=url_for("console.home"))

    def page(status: int, error: str) -> tuple[str, int]:
        return render_template("auth/login.html", form=LoginForm(formdata=None), next=next_path,
                               error=error), status

    if not ActionForm().validate_on_submit():
        return page(400, "The page expired. Try again.")
    ip = client_ip()
    client_key = f"passkey:{ip}"
    blocked = throttle.check(client_key, ip)
    if blocked:
        return too_many_attempts(page(429, retry_message(blocked.retry_after))[0],
                                 blocked.retry_after)
    try:
        result = passkeys.authenticate(Purpose.LOGIN, request.form.get("credential", ""))
    except PasskeyRefused as refused:
        # Counted against this client, not the account: a passkey passes the account lock, and
        # anyone who knows a credential id could otherwise lock its owner out with bad ones.
        _failed(refused, client_key, ip, "passkey")
        return page(_refusal_status(refused), SIGN_IN_ERROR)
    step = signin.passkey_step(result.user, passkeys.amr(result, password=False), next_path)
    if step.outcome is Outcome.DISABLED:
        return page(403, f"This account is disabled. {support.sentence()}")
    if step.response is None:
        return page(403, "Confirm your email address first.")
    return step.response


# ----- second factor -------------------------------------------------------------------------

@bp.post("/login/2fa/passkey")
def second_factor() -> ResponseReturnValue:
    pending = PendingSignIn().user()
    if pending is None:
        return redirect(url_for("auth.login"))
    user, next_path = pending

    def page(status: int, error: str) -> tuple[str, int]:
        return render_template("auth/login_2fa.html", form=LoginCodeForm(formdata=None),
                               recovery=False, error=error), status

    result, answer = _proven(Purpose.SECOND_FACTOR, user, "2fa", page, SECOND_FACTOR_ERROR)
    if answer is not None:
        return answer
    return signin.finish(user, passkeys.amr(result, password=True), next_path,
                             remember=request.form.get("remember") == "y")


# ----- password reset ------------------------------------------------------------------------

def _reset_link() -> tuple[User, dict[str, Any]] | None:
    """The user and data of the live reset link in this request, when a passkey is one of the
    second factors it needs."""
    try:
        user, data = recovery.open_link(request.values.get("token", ""))
    except recovery.ResetLinkError:
        return None
    return (user, data) if Factor.PASSKEY in second_factors(user) else None


def _reset_user() -> User | None:
    link = _reset_link()
    return link[0] if link else None


@bp.post("/reset-password/passkey")
def reset() -> ResponseReturnValue:
    """A passkey as the second factor of a reset: remembered for this link in this browser,
    then the reset page asks only for the new password."""
    link = _reset_link()
    if link is None:
        return redirect(url_for("recovery.reset_password", token=request.form.get("token", "")))
    user, data = link
    token = request.form.get("token", "")

    def page(status: int, error: str) -> tuple[str, int]:
        return render_template("auth/reset_password.html", form=ResetPasswordForm(formdata=None),
                               token=token, email=user.email, factor=Factor.PASSKEY,
                               offered=[f.value for f in second_factors(user)],
                               error=error), status

    result, answer = _proven(Purpose.RESET, user, "password_reset", page, SECOND_FACTOR_ERROR,
                             link=data["jti"])
    if answer is not None:
        return answer
    recovery.keep_passkey_proof(data, passkeys.amr(result, password=True), session)
    return redirect(url_for("recovery.reset_password", token=token))


# ----- re-authentication ---------------------------------------------------------------------

@bp.post("/settings/reauthenticate/passkey")
@login_required
def reauthenticate() -> ResponseReturnValue:
    user = current_user.user
    next_path = safe_return_path(request.form.get("next"), default=url_for("settings.overview"))

    def page(code: int, error: str) -> tuple[str, int]:
        form = ReauthForm(formdata=None)
        form.ask_for(second_factors(user))
        return render_template("settings/reauth.html", form=form, next=next_path,
                               error=error), code

    _result, answer = _proven(Purpose.REAUTH, user, "reauthenticate", page, REAUTH_ERROR)
    if answer is not None:
        return answer
    reauthenticated(current_user.record, method="passkey")
    return redirect(next_path)


# ----- settings ------------------------------------------------------------------------------

def _settings_page(status: int = 200, error: str | None = None) -> ResponseReturnValue:
    user = current_user.user
    return render_template(
        "settings/passkeys.html", user=user, passkeys=user.passkeys, form=ActionForm(),
        error=error,
    ), status


@bp.get("/settings/passkeys")
@fresh_login_required
def settings() -> ResponseReturnValue:
    return _settings_page()


@bp.post("/settings/passkeys")
@fresh_login_required
def add() -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    if not policy.current().allow_passkey:
        return _settings_page(403, "This site's policy does not allow passkeys as second "
                                   "factor: set up an authenticator app.")
    try:
        credential, codes = passkey_changes.add(
            current_user.user, current_user.record, request.form.get("credential", ""),
            request.form.get("name", ""),
        )
    except passkeys.BadName as exc:
        return _settings_page(400, str(exc))
    except PasskeyRefused as refused:
        current_app.logger.info("passkey registration refused: %s", refused)
        message = (
            "That passkey is already registered."
            if refused.refusal is Refusal.DUPLICATE
            else "That passkey could not be added. Try again."
        )
        return _settings_page(_refusal_status(refused), message)
    flash(f'Passkey "{credential.name}" added. Your other sessions were signed out.')
    if codes:  # it turned 2FA on: the recovery codes come in the same flow
        return codes_page(codes)
    return redirect(url_for("passkeys.settings"))


def _owned(public_id: str) -> Any:
    credential = passkeys.find(current_user.user, public_id)
    if credential is None:
        abort(404)
    return credential


@bp.post("/settings/passkeys/<public_id>/rename")
@fresh_login_required
def rename(public_id: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    credential = _owned(public_id)
    try:
        passkey_changes.rename(current_user.user, credential, request.form.get("name", ""))
    except passkeys.BadName as exc:
        return _settings_page(400, str(exc))
    flash(f'Passkey renamed to "{credential.name}".')
    return redirect(url_for("passkeys.settings"))


@bp.post("/settings/passkeys/<public_id>/remove")
@fresh_login_required
def remove(public_id: str) -> ResponseReturnValue:
    if not ActionForm().validate_on_submit():
        abort(400)
    credential = _owned(public_id)
    name = credential.name
    if passkey_changes.remove(current_user.user, current_user.record, credential):
        flash("Passkey removed. Two-factor authentication is off. "
              "Your other sessions were signed out.")
    else:
        flash(f'Passkey "{name}" removed. Your other sessions were signed out.')
    # "Sign out everywhere" offers removal too, and comes back to its question.
    return redirect(safe_return_path(request.form.get("next"),
                                     default=url_for("passkeys.settings")))
