"""Sign-up, email verification, login (password, then TOTP or a recovery code), logout: the
pages. The rules are services: ``gateway.identity.signup`` (pending sign-ups, verification
links) and ``gateway.identity.signin`` (the password step, the pending second factor, the
finish); these views parse the form, call one of them and render or redirect.
"""

from __future__ import annotations

from typing import Any

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
from flask.typing import ResponseReturnValue
from flask_login import current_user, login_url
from markupsafe import Markup
from werkzeug.wrappers import Response

from gateway.console.forms import (
    ActionForm,
    ConfirmSignupForm,
    EmailForm,
    LoginCodeForm,
    LoginForm,
    RecoveryCodeForm,
    SignupForm,
)
from gateway.console.sso import continue_to
from gateway.console.sso import route_for as sso_route
from gateway.identity import passkeys, signin, throttle
from gateway.identity import signup as signups
from gateway.identity.addresses import canonical_email
from gateway.identity.passwords import policy_problem
from gateway.identity.sessions import (
    current_record,
    end_browser_session,
    sign_out,
    why_signed_out,
)
from gateway.identity.signin import Outcome, PendingSignIn
from gateway.products import linking
from gateway.web.client import client_ip
from gateway.web.errors import retry_message, too_many_attempts
from gateway.web.return_paths import safe_return_path
from gateway.web.support import sentence as support_sentence

bp = Blueprint("auth", __name__)

GENERIC_LOGIN_ERROR = "Incorrect email or password."
DISABLED_ERROR = "This account is disabled."
GENERIC_CODE_ERROR = "That code did not work. Try the current code or a recovery code."
REUSED_CODE_ERROR = (
    "That code was already used. Wait for the next code in your authenticator app, "
    "then enter it."
)
RECOVERY_CODE_ERROR = "That recovery code did not work. Check it, or try another of your codes."


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


def _with_reset_link(text: str, email: str | None) -> Markup:
    """A sign-in error that says what repeated failures do and offers the reset (for the
    address typed, when it is one)."""
    reset = url_for("recovery.forgot_password", email=canonical_email(email))
    return Markup('{} {} <a href="{}">Forgot your password? Reset it</a>.').format(
        text, _lockout_rule(), reset
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
        return _throttled("auth/signup.html", blocked, form=form)
    signups.sign_up(email, form.password.data or "")
    return render_template("auth/check_inbox.html", email=email)


@bp.route("/verify-email", methods=["GET", "POST"])
def verify_email() -> ResponseReturnValue:
    """GET shows a confirm button (mail scanners prefetch links); POST spends the link. The
    browser that signed up confirms with the button alone and is signed in; any other asks
    for the password chosen at sign-up (``signup.confirm``)."""
    token = request.values.get("token", "")
    try:
        user, data = signups.open_link(token)
    except signups.LinkProblem as problem:
        return _link_problem(str(problem))
    here = signups.signed_up_here(user)
    form: ActionForm | ConfirmSignupForm = ActionForm() if here else ConfirmSignupForm()

    def page(status: int = 200, error: str | None = None) -> tuple[str, int]:
        return render_template("auth/verify_email.html", form=form, token=token, here=here,
                               email=user.email, error=error), status

    if request.method == "GET":
        return page()
    if here:
        if not form.validate_on_submit():
            return page(400)
        try:
            signed_in = signups.confirm_here(user, data, url_for("console.home"))
        except signups.LinkProblem as problem:
            return _link_problem(str(problem))
        flash("Email address confirmed: you are signed in.", "success")
        return signed_in
    assert isinstance(form, ConfirmSignupForm)
    password = form.password.data or "" if form.validate_on_submit() else None
    try:
        done, blocked = signups.confirm(user, data, password, client_ip())
    except signups.LinkProblem as problem:
        return _link_problem(str(problem))
    if blocked is not None:
        return too_many_attempts(page(error=retry_message(blocked.retry_after))[0],
                                 blocked.retry_after)
    if done is signups.Confirmation.INCOMPLETE:
        return page(400)
    if done is signups.Confirmation.WRONG_PASSWORD:
        return page(400, signups.WRONG_PASSWORD)
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
    blocked = throttle.client_action("resend", client_ip())
    if blocked:
        return _throttled("auth/link_problem.html", blocked, message="", form=form)
    signups.resend(email)
    return render_template("auth/check_inbox.html", email=email, resent=True)


def sign_in_first() -> Response:
    """Flask-Login's answer to a signed-out visit of a page: the sign-in page, back there
    after. Only a page other than the Console's own address gets "Please sign in to see that
    page"; a browser whose session something else ended is told that instead (by ``login``)."""
    if request.path != url_for("console.home") and why_signed_out() is None:
        flash("Please sign in to see that page.", "info")
    return redirect(login_url("auth.login", request.url))


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """Identifier-first: an address at a domain with single sign-on (typed here, or handed
    over by a product's own login page as ``login_hint``) goes to its identity provider,
    whatever password came with it; ``break_glass`` keeps the password sign-in (an owner's,
    when the identity provider is down: ``gateway.organizations.sso.enforcement``)."""
    form = LoginForm()
    next_path = _next_path()
    break_glass = request.values.get("break_glass") == "1"
    if request.method == "GET":
        linking.note_product_login_redirect(request.args.get("login_hint"), next_path)
        if current_user.is_authenticated:
            return redirect(next_path)
        sso = None if break_glass else sso_route(request.args.get("login_hint"), next_path)
        if sso is not None:
            return redirect(sso)
        form.email.data = canonical_email(request.args.get("login_hint")) or ""
        handoff = linking.handoff_product(request.args.get("login_hint"), next_path)
        passkeys.bind_browser()
        return render_template("auth/login.html", form=form, next=next_path, handoff=handoff,
                               signed_out=why_signed_out(forget=True), break_glass=break_glass)
    sso = None if break_glass else sso_route(form.email.data, next_path)
    if sso is not None:
        return continue_to(sso)
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form, next=next_path,
                               break_glass=break_glass), 400
    step = signin.password_step(form.email.data or "", form.password.data or "", client_ip(),
                                next_path, PendingSignIn())
    if step.outcome is Outcome.THROTTLED and step.blocked is not None:
        return _locked_out("auth/login.html", step.blocked, form=form, next=next_path)
    if step.outcome is Outcome.REFUSED:
        return render_template(
            "auth/login.html", form=form, next=next_path,
            error=_with_reset_link(GENERIC_LOGIN_ERROR, form.email.data),
        ), 401
    if step.outcome is Outcome.DISABLED:
        return render_template("auth/login.html", form=form, next=next_path,
                               error=DISABLED_ERROR + " " + support_sentence()), 403
    if step.outcome is Outcome.UNVERIFIED and step.user is not None:
        return render_template("auth/unverified.html", email=step.user.email,
                               form=EmailForm()), 403
    if step.outcome is Outcome.SSO_REQUIRED:
        return redirect(url_for("sso.required", next=next_path))
    if step.outcome is Outcome.SECOND_FACTOR:
        return redirect(url_for("auth.login_2fa"))
    assert step.response is not None
    return step.response


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
    pending = PendingSignIn().user()
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
    step = signin.code_step(user, form.code.data or "", client_ip(), next_path,
                            recovery=recovery, remember=bool(form.remember.data))
    if step.outcome is Outcome.THROTTLED and step.blocked is not None:
        return _locked_out("auth/login_2fa.html", step.blocked, form=form, recovery=recovery)
    if step.outcome is Outcome.REUSED_CODE:
        return page(401, REUSED_CODE_ERROR)
    if step.outcome is Outcome.REFUSED:
        return page(401, RECOVERY_CODE_ERROR if recovery else GENERIC_CODE_ERROR)
    assert step.response is not None
    return step.response


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
        sign_out(record)
    end_browser_session()
    flash("You are signed out.", "success")
    return redirect(safe_return_path(request.values.get("next"), default=url_for("auth.login")))
