"""Sign-up, email verification, login (password, then TOTP or a recovery code), logout.

An account is only claimed by proving the mailbox. Until its link is used, a sign-up is
pending: the next sign-up of the same address replaces its password (and the links mailed for
it stop working), and once ``EMAIL_TOKEN_MAX_AGE`` passed it counts as absent everywhere (login,
resend, verification) until a new sign-up of the address takes the row over.
"""

from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from gateway.console import linking
from gateway.console.forms import (
    ActionForm,
    ConfirmSignupForm,
    EmailForm,
    LoginCodeForm,
    LoginForm,
    RecoveryCodeForm,
    SignupForm,
)
from gateway.db import db
from gateway.identity import audit, devices, notices, throttle, tokens
from gateway.identity.addresses import canonical_email
from gateway.identity.factors import Factor, Use, check_code
from gateway.identity.mail import send_mail
from gateway.identity.passwords import hash_password, needs_rehash, policy_problem, verify_password
from gateway.identity.sessions import current_record, end_browser_session, revoke, start_session
from gateway.identity.totp import Check, remaining_recovery_codes
from gateway.models import User, utcnow
from gateway.web.client import client_ip
from gateway.web.errors import retry_message, too_many_attempts
from gateway.web.observability import LOGINS
from gateway.web.return_paths import safe_return_path

bp = Blueprint("auth", __name__)

GENERIC_LOGIN_ERROR = "Incorrect email or password."
GENERIC_CODE_ERROR = "That code did not work. Try the current code or a recovery code."
REUSED_CODE_ERROR = (
    "That code was already used. Wait for the next code in your authenticator app, "
    "then enter it."
)
RECOVERY_CODE_ERROR = "That recovery code did not work. Check it, or try another of your codes."
#: Seconds between the password step and the 2FA step before starting over.
PENDING_2FA_SECONDS = 300


def find_user(email: str | None) -> User | None:
    if email is None:
        return None
    return db().scalars(select(User).where(User.email == email)).first()


def expired_signup(user: User) -> bool:
    """An unconfirmed sign-up older than a verification link lives: it counts as absent."""
    lifetime = timedelta(seconds=current_app.config["EMAIL_TOKEN_MAX_AGE"])
    return not user.is_verified and utcnow() - user.created_at > lifetime


def find_account(email: str | None) -> User | None:
    """The account at ``email``, leaving out expired sign-ups."""
    user = find_user(email)
    return None if user is None or expired_signup(user) else user


def _attempt(user: User) -> str:
    """Names the credentials a verification link was mailed for: a new sign-up of a pending
    address gets a new password hash, so links mailed for earlier attempts stop matching."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:32]


def _account_key(raw: str) -> str:
    """Throttle key: the canonical email, or a digest of text that is not an address (which
    may hold anything, NUL bytes included, that a database column would refuse)."""
    digest = hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()
    return canonical_email(raw) or "raw:" + digest


def _next_path() -> str:
    return safe_return_path(request.values.get("next"), default=url_for("console.home"))


def _throttled(template: str, blocked: throttle.Blocked, **context: Any) -> Response:
    message = retry_message(blocked.retry_after)
    page = render_template(template, error=message, **context)
    return too_many_attempts(page, blocked.retry_after)


def _lockout_rule(duration: bool = True) -> str:
    """Why sign-in pauses; ``duration=False`` where the wait is already said (the 429 page)."""
    config = current_app.config
    minutes = max(1, round(config["LOGIN_LOCKOUT_SECONDS"] / 60))
    pause = f"pauses for {minutes} minutes" if duration else "pauses"
    return (
        f"After {config['LOGIN_MAX_FAILURES']} failed attempts in a row, signing in to the "
        f"account {pause}."
    )


def _with_reset_link(text: str) -> Markup:
    """A sign-in error that says what repeated failures do and offers the reset."""
    return Markup('{} {} <a href="{}">Forgot your password? Reset it</a>.').format(
        text, _lockout_rule(), url_for("recovery.forgot_password")
    )


def _locked_out(template: str, blocked: throttle.Blocked, **context: Any) -> Response:
    """The sign-in 429: how long to wait, why, and the ways out (a reset lifts the pause;
    failing that, the support route)."""
    message = Markup('{} {} <a href="{}">Reset your password</a> to sign in without waiting. '
                     'Still stuck? {}')
    error = message.format(
        retry_message(blocked.retry_after), _lockout_rule(duration=False),
        url_for("recovery.forgot_password"),
        Markup(render_template("_support.html")),  # noqa: S704 - our own template, escaped
    )
    return too_many_attempts(render_template(template, error=error, **context),
                             blocked.retry_after)


def verification_link(user: User) -> str:
    token = tokens.make_token("verify-email", uid=user.id, email=user.email, attempt=_attempt(user))
    return current_app.config["PUBLIC_URL"] + url_for("auth.verify_email", token=token)


def send_verification(user: User) -> None:
    send_mail(
        user.email,
        "Confirm your email address",
        "Confirm the address for your Unified Login account by opening this link "
        f"(valid for 24 hours, once):\n\n{verification_link(user)}\n\n"
        "If you did not sign up, ignore this message.",
    )


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> ResponseReturnValue:
    form = SignupForm()
    valid = form.validate_on_submit()
    if request.method == "GET":
        return render_template("auth/signup.html", form=form)
    # Every problem at once: the address and the password are checked whatever the other says.
    email = canonical_email(form.email.data) if form.email.data else None
    if form.email.data and email is None and not form.email.errors:
        form.email.errors.append("Enter a valid email address, like name@example.com.")
    problem = policy_problem(form.password.data, email or "") if form.password.data else None
    if problem and not form.password.errors:
        form.password.errors.append(problem)
    if not valid or email is None or problem:
        return render_template("auth/signup.html", form=form), 400
    blocked = throttle.client_action("signup", client_ip())
    if blocked:
        db().commit()
        return _throttled("auth/signup.html", blocked, form=form)
    # Hash whether or not the address is taken: skipping it would time who has an account.
    user = _pending_signup(email, hash_password(form.password.data or ""))
    if user is not None:
        audit.record("signup", user.id)
        send_verification(user)
    else:  # Same answer and one mail too, so nothing tells who has an account.
        send_mail(
            email,
            "Someone tried to sign up with your address",
            "You already have a Unified Login account. Sign in: "
            f"{current_app.config['PUBLIC_URL']}{url_for('auth.login')}\n\nForgot your password? "
            "Reset it: "
            f"{current_app.config['PUBLIC_URL']}{url_for('recovery.forgot_password')}",
        )
    db().commit()
    return render_template("auth/check_inbox.html", email=email)


def _pending_signup(email: str, password_hash: str) -> User | None:
    """The unconfirmed account at ``email``, now holding ``password_hash``; None when the
    address belongs to a confirmed account.

    Proving the mailbox decides, not who signed up first: a pending sign-up (expired or not)
    takes the latest password and starts its lifetime again, and the links mailed for it
    before stop working, so whoever reads the inbox confirms the password they chose.
    """
    user = find_user(email)
    if user is None:
        user = User(email=email, password_hash=password_hash)
        try:
            with db().begin_nested():
                db().add(user)
            return user
        except IntegrityError:  # the same address signed up at the same moment
            user = find_user(email)
    if user is None or user.is_verified:
        return None
    user.password_hash = password_hash
    user.created_at = utcnow()
    return user


ALREADY_USED = "This link was already used. Sign in, or ask for a new link."
#: A pending sign-up whose address an existing account's email change confirmed first.
TAKEN_FIRST = (
    "This address was confirmed by another account first, so this sign-up no longer exists. "
    "Sign in if that account is yours, or sign up with another address."
)


@bp.route("/verify-email", methods=["GET", "POST"])
def verify_email() -> ResponseReturnValue:
    """GET shows a confirm button (mail scanners prefetch links); POST spends the link."""
    token = request.values.get("token", "")
    form = ConfirmSignupForm()
    try:
        data = tokens.read_token("verify-email", token)
        if tokens.is_spent(data):
            raise tokens.TokenUsed
    except tokens.TokenExpired:
        return _link_problem("This link has expired. Ask for a new one below.")
    except tokens.TokenUsed:
        return _link_problem(ALREADY_USED)
    except tokens.TokenInvalid:
        return _link_problem("This link is not valid. Check that you copied all of it.")
    user = db().get(User, data.get("uid"))
    if user is None and find_account(str(data.get("email"))) is not None:
        return _link_problem(TAKEN_FIRST)  # an email change confirmed the address first
    if user is None or user.email != data.get("email") or data.get("attempt") != _attempt(user):
        return _link_problem("This link is not valid any more. Ask for a new one below.")
    if expired_signup(user):
        return _link_problem("This sign-up has expired. Sign up again.")
    if request.method == "GET":
        return render_template("auth/verify_email.html", form=form, token=token, email=user.email)
    refused = _confirm_signup_password(user, form, token)
    if refused is not None:
        return refused
    try:
        tokens.spend(data)  # first of this request's writes; rolled back whole if it loses
    except tokens.TokenUsed:
        return _link_problem(ALREADY_USED)
    if not _still_exists(user):  # an email change confirmed the address meanwhile
        db().rollback()
        return _link_problem(TAKEN_FIRST)
    throttle.record_success(user.email)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        audit.record("email_verified", user.id)
    db().commit()
    return render_template("auth/verified.html", email=user.email)


def _still_exists(user: User) -> bool:
    """Whether the sign-up's row is still there, locked until commit (PostgreSQL; SQLite's
    one writer is this request since the link was spent): an email change confirmed first
    deletes a pending sign-up of its address."""
    query = select(User.id).where(User.id == user.id).with_for_update()
    return db().scalars(query).first() is not None


def _confirm_signup_password(
    user: User, form: ConfirmSignupForm, token: str
) -> ResponseReturnValue | None:
    """The link proves the mailbox; the password proves this is the sign-up the mailbox owner
    made. Someone who signed up the address with their own password cannot confirm it without
    the link, and the mailbox owner cannot confirm a stranger's sign-up: they sign up again,
    which replaces it. Failures count like sign-in failures (throttled per account and client).
    """
    ip = client_ip()
    blocked = throttle.check(user.email, ip)
    if blocked:
        page = render_template("auth/verify_email.html", form=form, token=token,
                               email=user.email, error=retry_message(blocked.retry_after))
        return too_many_attempts(page, blocked.retry_after)
    if not form.validate_on_submit():
        return render_template("auth/verify_email.html", form=form, token=token,
                               email=user.email), 400
    if not verify_password(user.password_hash, form.password.data or ""):
        throttle.record_failure(user.email, ip)
        db().commit()
        message = (
            "That is not the password chosen for this sign-up. If you did not sign up again "
            "since this link was sent, someone else may have: sign up again with your own "
            "password, and use the link from that mail."
        )
        return render_template("auth/verify_email.html", form=form, token=token,
                               email=user.email, error=message), 400
    return None


def _link_problem(message: str) -> ResponseReturnValue:
    return render_template("auth/link_problem.html", message=message, form=EmailForm()), 400


@bp.route("/verify-email/resend", methods=["POST"])
def resend_verification() -> ResponseReturnValue:
    form = EmailForm()
    email = canonical_email(form.email.data) if form.validate_on_submit() else None
    if email is None:
        form.email.errors = ["Enter a valid email address, like name@example.com."]
        return render_template("auth/link_problem.html", message="", form=form), 400
    blocked = throttle.client_action("resend", client_ip())
    if blocked:
        db().commit()
        return _throttled("auth/link_problem.html", blocked, message="", form=form)
    # One mail whoever holds the address, so neither the page nor its timing tells.
    user = find_account(email)
    base = current_app.config["PUBLIC_URL"]
    if user is not None and not user.is_verified:
        send_verification(user)
    elif user is not None:
        send_mail(
            email,
            "Your address is already confirmed",
            "Someone asked for a new confirmation link, but this address is already confirmed. "
            f"Sign in: {base}{url_for('auth.login')}",
        )
    else:
        send_mail(
            email,
            "No sign-up is waiting for this address",
            "Someone asked for a new confirmation link for this address, but no sign-up is "
            f"waiting for it. To create an account: {base}{url_for('auth.signup')}\n\n"
            "If this was not you, ignore this message.",
        )
    db().commit()
    return render_template("auth/check_inbox.html", email=email, resent=True)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    next_path = _next_path()
    if request.method == "GET":
        linking.note_product_login_redirect(request.args.get("login_hint"), next_path)
        if current_user.is_authenticated:
            return redirect(next_path)
        form.email.data = canonical_email(request.args.get("login_hint")) or ""
        handoff = linking.handoff_product(request.args.get("login_hint"), next_path)
        return render_template("auth/login.html", form=form, next=next_path, handoff=handoff)
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, next=next_path), 400
    account = _account_key(form.email.data or "")
    ip = client_ip()
    blocked = throttle.check(account, ip)
    if blocked:
        return _locked_out("auth/login.html", blocked, form=form, next=next_path)
    user = find_account(canonical_email(form.email.data))
    password = form.password.data or ""
    if not verify_password(user.password_hash if user else None, password) or user is None:
        locked = throttle.record_failure(account, ip)
        LOGINS.labels("failure").inc()
        audit.record("login_failed", user.id if user else None, stage="password")
        if locked:
            audit.record("lockout", user.id if user else None)
        db().commit()
        return render_template(
            "auth/login.html", form=form, next=next_path,
            error=_with_reset_link(GENERIC_LOGIN_ERROR),
        ), 401
    if not user.has_second_factor:  # cleared once the second factor is right too
        throttle.record_success(account)
    if not user.is_verified:  # no rehash: it would end the links mailed for this sign-up
        db().commit()
        return render_template("auth/unverified.html", email=user.email, form=EmailForm()), 403
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.has_second_factor and devices.remembered_device(user) is not None:
        # A remembered browser skips the second factor only: the password was just checked.
        throttle.record_success(account)
        return finish_login(user, ["pwd", "device"], next_path)
    if user.has_second_factor:  # TOTP or a passkey
        session["pending_2fa"] = {
            "uid": user.id, "at": int(time.time()), "epoch": user.session_epoch, "next": next_path
        }
        db().commit()
        return redirect(url_for("auth.login_2fa"))
    return finish_login(user, ["pwd"], next_path)


def finish_login(
    user: User, methods: list[str], next_path: str, *, remember: bool = False
) -> Response:
    """Start the session; note the device (a notice when it is new, remembered when asked);
    after a recovery code, show how many are left before going on to ``next_path``."""
    start_session(user, methods)
    response = redirect(next_path)
    if "recovery" in methods:  # spending it sent the notice (gateway.identity.factors)
        remaining = remaining_recovery_codes(user)
        session["recovery_code_used"] = {"next": next_path, "remaining": remaining}
        response = redirect(url_for("twofactor.recovery_code_used"))
    device, seen_before = devices.note_sign_in(user, response, remember=remember)
    if not seen_before and devices.has_other_devices(user, device):
        notices.new_sign_in(user, device)
    if remember:
        audit.record("device_remembered", user.id, device=device.name)
    LOGINS.labels("success").inc()
    audit.record("login", user.id, methods=methods, device=device.name)
    db().commit()
    return response


def _pending_user() -> tuple[User, str] | None:
    pending = session.get("pending_2fa")
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    if time.time() - pending["at"] > PENDING_2FA_SECONDS:
        session.pop("pending_2fa", None)
        return None
    user = db().get(User, str(pending.get("uid")))
    # Sign out everywhere and a password or 2FA change end this half-done sign-in too.
    if user is None or not user.has_second_factor or pending.get("epoch") != user.session_epoch:
        session.pop("pending_2fa", None)
        return None
    return user, safe_return_path(pending.get("next"), default=url_for("console.home"))


@bp.route("/login/2fa", methods=["GET", "POST"])
def login_2fa() -> ResponseReturnValue:
    """The second step: the authenticator's code (numeric keyboard). A recovery code typed
    here still works; the page offers its own entry for one (``/login/2fa/recovery``)."""
    return _second_step(recovery=False)


@bp.route("/login/2fa/recovery", methods=["GET", "POST"])
def login_recovery_code() -> ResponseReturnValue:
    """The second step with a recovery code (text keyboard: the codes hold letters)."""
    return _second_step(recovery=True)


def _second_step(*, recovery: bool) -> ResponseReturnValue:
    pending = _pending_user()
    if pending is None:
        return redirect(url_for("auth.login"))
    user, next_path = pending
    form: LoginCodeForm | RecoveryCodeForm = RecoveryCodeForm() if recovery else LoginCodeForm()

    def page(status: int = 200, error: str | None = None) -> ResponseReturnValue:
        return render_template(
            "auth/login_2fa.html", form=form, recovery=recovery, error=error
        ), status

    if request.method == "GET":
        return page()
    if not form.validate_on_submit():
        return page(400)
    ip = client_ip()
    blocked = throttle.check(user.email, ip)
    if blocked:
        return _locked_out("auth/login_2fa.html", blocked, form=form, recovery=recovery)
    # Only the factors the account has turned on (a TOTP key still being set up is none);
    # a recovery code typed in the TOTP field still works.
    accept = [Factor.RECOVERY_CODE] if recovery else [Factor.TOTP, Factor.RECOVERY_CODE]
    checked, factor = check_code(user, form.code.data or "", Use.SIGN_IN, accept=accept)
    if factor is not None:
        methods = ["pwd", factor.value]
    else:
        locked = throttle.record_failure(user.email, ip)
        LOGINS.labels("failure").inc()
        audit.record("login_failed", user.id, stage="2fa")
        if locked:
            audit.record("lockout", user.id)
        db().commit()
        if checked is Check.REUSED:
            return page(401, REUSED_CODE_ERROR)
        return page(401, RECOVERY_CODE_ERROR if recovery else GENERIC_CODE_ERROR)
    throttle.record_success(user.email)
    return finish_login(user, methods, next_path, remember=bool(form.remember.data))


@bp.route("/logout", methods=["GET", "POST"])
def logout() -> ResponseReturnValue:
    form = ActionForm()
    if request.method == "GET":
        # A product's "Sign out" link lands here: the question, then a POST with this CSRF token.
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        nxt = safe_return_path(request.args.get("next"), default="")
        return render_template("auth/logout.html", form=form, next=nxt)
    if not form.validate_on_submit():
        abort(400)
    record = current_record()
    if record is not None:
        revoke(record)
        audit.record("logout", record.user_id)
        db().commit()
    end_browser_session()
    flash("You are signed out.", "success")
    return redirect(safe_return_path(request.values.get("next"), default=url_for("auth.login")))
