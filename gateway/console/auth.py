"""Sign-up, email verification, login (password, then TOTP or a recovery code), logout."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from gateway.console import linking
from gateway.console.forms import ActionForm, CodeForm, EmailForm, LoginForm, SignupForm
from gateway.db import db
from gateway.identity import audit, throttle, tokens
from gateway.identity.addresses import canonical_email
from gateway.identity.mail import send_mail
from gateway.identity.passwords import hash_password, needs_rehash, policy_problem, verify_password
from gateway.identity.sessions import current_record, end_browser_session, revoke, start_session
from gateway.identity.totp import use_recovery_code, verify_totp
from gateway.models import User, utcnow
from gateway.web.client import client_ip
from gateway.web.errors import retry_message, too_many_attempts
from gateway.web.observability import LOGINS
from gateway.web.return_paths import safe_return_path

bp = Blueprint("auth", __name__)

GENERIC_LOGIN_ERROR = "Incorrect email or password."
GENERIC_CODE_ERROR = "That code did not work. Try the current code or a recovery code."
#: Seconds between the password step and the 2FA step before starting over.
PENDING_2FA_SECONDS = 300


def find_user(email: str | None) -> User | None:
    if email is None:
        return None
    return db().scalars(select(User).where(User.email == email)).first()


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


def verification_link(user: User) -> str:
    token = tokens.make_token("verify-email", uid=user.id, email=user.email)
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
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("auth/signup.html", form=form), status
    email = canonical_email(form.email.data)
    if email is None:
        form.email.errors.append("Enter a valid email address, like name@example.com.")
        return render_template("auth/signup.html", form=form), 400
    problem = policy_problem(form.password.data or "", email)
    if problem:
        form.password.errors.append(problem)
        return render_template("auth/signup.html", form=form), 400
    # Hash whether or not the address is taken: skipping it would time who has an account.
    password_hash = hash_password(form.password.data or "")
    if find_user(email) is None and _create_user(email, password_hash):
        return render_template("auth/check_inbox.html", email=email)
    # Same answer as a new sign-up, so the page does not reveal who has an account.
    if throttle.allow_mail(email):
        send_mail(
            email,
            "Someone tried to sign up with your address",
            "You already have a Unified Login account. Sign in, or reset your password "
            f"from the sign-in page: {current_app.config['PUBLIC_URL']}{url_for('auth.login')}",
        )
    db().commit()
    return render_template("auth/check_inbox.html", email=email)


def _create_user(email: str, password_hash: str) -> bool:
    """Create the account and send its verification mail; False when the email got taken."""
    user = User(email=email, password_hash=password_hash)
    try:
        with db().begin_nested():
            db().add(user)
    except IntegrityError:
        return False
    audit.record("signup", user.id)
    send_verification(user)
    db().commit()
    return True


@bp.route("/verify-email", methods=["GET", "POST"])
def verify_email() -> ResponseReturnValue:
    """GET shows a confirm button (mail scanners prefetch links); POST spends the link."""
    token = request.values.get("token", "")
    form = ActionForm()
    try:
        data = tokens.read_token("verify-email", token)
        if tokens.is_spent(data):
            raise tokens.TokenUsed
    except tokens.TokenExpired:
        return _link_problem("This link has expired. Ask for a new one below.")
    except tokens.TokenUsed:
        return _link_problem("This link was already used. Sign in, or ask for a new link.")
    except tokens.TokenInvalid:
        return _link_problem("This link is not valid. Check that you copied all of it.")
    user = db().get(User, data.get("uid"))
    if user is None or user.email != data.get("email"):
        return _link_problem("This link is not valid any more. Ask for a new one below.")
    if request.method == "GET" or not form.validate_on_submit():
        return render_template("auth/verify_email.html", form=form, token=token, email=user.email)
    tokens.spend(data)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        audit.record("email_verified", user.id)
    db().commit()
    return render_template("auth/verified.html", email=user.email)


def _link_problem(message: str) -> ResponseReturnValue:
    return render_template("auth/link_problem.html", message=message, form=EmailForm()), 400


@bp.route("/verify-email/resend", methods=["POST"])
def resend_verification() -> ResponseReturnValue:
    form = EmailForm()
    email = canonical_email(form.email.data) if form.validate_on_submit() else None
    if email is None:
        form.email.errors = ["Enter a valid email address, like name@example.com."]
        return render_template("auth/link_problem.html", message="", form=form), 400
    user = find_user(email)
    if user is not None and not user.is_verified and throttle.allow_mail(email):
        send_verification(user)
    db().commit()
    return render_template("auth/check_inbox.html", email=email)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    form = LoginForm()
    next_path = _next_path()
    if request.method == "GET":
        linking.note_product_login_redirect(request.args.get("login_hint"), next_path)
        if current_user.is_authenticated:
            return redirect(next_path)
        form.email.data = canonical_email(request.args.get("login_hint")) or ""
        return render_template("auth/login.html", form=form, next=next_path)
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, next=next_path), 400
    account = _account_key(form.email.data or "")
    ip = client_ip()
    blocked = throttle.check(account, ip)
    if blocked:
        return _throttled("auth/login.html", blocked, form=form, next=next_path)
    user = find_user(canonical_email(form.email.data))
    password = form.password.data or ""
    if not verify_password(user.password_hash if user else None, password) or user is None:
        locked = throttle.record_failure(account, ip)
        LOGINS.labels("failure").inc()
        audit.record("login_failed", user.id if user else None, stage="password")
        if locked:
            audit.record("lockout", user.id if user else None)
        db().commit()
        return render_template(
            "auth/login.html", form=form, next=next_path, error=GENERIC_LOGIN_ERROR
        ), 401
    if not user.has_2fa:  # with 2FA the count is cleared only once the code is right too
        throttle.record_success(account)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if not user.is_verified:
        db().commit()
        return render_template("auth/unverified.html", email=user.email, form=EmailForm()), 403
    if user.has_2fa:
        session["pending_2fa"] = {"uid": user.id, "at": int(time.time()), "next": next_path}
        db().commit()
        return redirect(url_for("auth.login_2fa"))
    return finish_login(user, ["pwd"], next_path)


def finish_login(user: User, methods: list[str], next_path: str) -> Response:
    start_session(user, methods)
    LOGINS.labels("success").inc()
    audit.record("login", user.id, methods=methods)
    db().commit()
    return redirect(next_path)


def _pending_user() -> tuple[User, str] | None:
    pending = session.get("pending_2fa")
    if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
        return None
    if time.time() - pending["at"] > PENDING_2FA_SECONDS:
        session.pop("pending_2fa", None)
        return None
    user = db().get(User, str(pending.get("uid")))
    if user is None or not user.has_2fa:
        return None
    return user, safe_return_path(pending.get("next"), default=url_for("console.home"))


@bp.route("/login/2fa", methods=["GET", "POST"])
def login_2fa() -> ResponseReturnValue:
    pending = _pending_user()
    if pending is None:
        return redirect(url_for("auth.login"))
    user, next_path = pending
    form = CodeForm()
    if request.method == "GET":
        return render_template("auth/login_2fa.html", form=form)
    if not form.validate_on_submit():
        return render_template("auth/login_2fa.html", form=form), 400
    ip = client_ip()
    blocked = throttle.check(user.email, ip)
    if blocked:
        return _throttled("auth/login_2fa.html", blocked, form=form)
    code = form.code.data or ""
    if verify_totp(user, code):
        methods = ["pwd", "otp"]
    elif use_recovery_code(user, code):
        methods = ["pwd", "recovery"]
        audit.record("recovery_code_used", user.id)
    else:
        locked = throttle.record_failure(user.email, ip)
        LOGINS.labels("failure").inc()
        audit.record("login_failed", user.id, stage="2fa")
        if locked:
            audit.record("lockout", user.id)
        db().commit()
        return render_template("auth/login_2fa.html", form=form, error=GENERIC_CODE_ERROR), 401
    throttle.record_success(user.email)
    return finish_login(user, methods, next_path)


@bp.route("/logout", methods=["POST"])
def logout() -> Response:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400)
    record = current_record()
    if record is not None:
        revoke(record)
        audit.record("logout", record.user_id)
        db().commit()
    end_browser_session()
    return redirect(safe_return_path(request.values.get("next"), default=url_for("auth.login")))
