"""The product's own login (identifier first) and logout pages (sign-up: ``kit/signup.py``)."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from product_stubs.kit.db import get_db
from product_stubs.kit.identity import end_current_session, start_session
from product_stubs.kit.throttle import Throttle
from product_stubs.kit.urls import gateway_login_url, safe_next
from product_stubs.kit.users import InvalidEmail, normalise_email, passwords, user_by_email

bp = Blueprint("auth", __name__, template_folder="templates")

GENERIC_ERROR = "Invalid email or password."


def _throttle() -> Throttle:
    throttle: Throttle = current_app.extensions["product_throttle"]
    return throttle


def _too_many(wait: int) -> Response:
    body = render_template(
        "kit/error.html", code=429, message="Too many attempts. Please wait and try again."
    )
    return Response(body, status=429, headers={"Retry-After": str(wait)}, mimetype="text/html")


def ip_limited() -> Response | None:
    """Count one attempt from this client address (login and sign-up); 429 once over the limit.

    ``remote_addr`` is the socket peer, or the browser's address when the gateway signed it
    (``kit/forwarding.py``): a client cannot spread its attempts over made-up addresses.
    """
    config = current_app.config
    key = f"ip:{request.remote_addr}"
    wait = _throttle().retry_after(
        key, config["LOGIN_IP_MAX_ATTEMPTS"], config["LOGIN_WINDOW_SECONDS"]
    )
    if wait:
        return _too_many(wait)
    _throttle().hit(key, config["LOGIN_WINDOW_SECONDS"])
    return None


def _after_login(next_path: str | None) -> BaseResponse:
    if next_path:
        return redirect(request.script_root + next_path)
    return redirect(url_for("teams.home"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse | str | tuple[str, int]:
    next_path = safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.user is not None:
            return _after_login(next_path)
        return render_template("kit/login.html", step="email", email="", next=next_path)
    limited = ip_limited()
    if limited is not None:
        return limited
    raw_email = request.form.get("email", "")
    try:
        email = normalise_email(raw_email)
    except InvalidEmail:
        page = render_template(
            "kit/login.html",
            step="email",
            email="",
            next=next_path,
            error="Enter a valid email address.",
        )
        return page, 400
    db = get_db()
    user = user_by_email(db, email)
    if user is not None and user.managed_by_console:
        return redirect(gateway_login_url(email, next_path))
    if request.form.get("step") != "password":
        return render_template("kit/login.html", step="password", email=email, next=next_path)

    config = current_app.config
    email_key = f"email:{email}"
    window = config["LOGIN_WINDOW_SECONDS"]
    wait = _throttle().retry_after(email_key, config["LOGIN_EMAIL_MAX_FAILURES"], window)
    if wait:
        return _too_many(wait)
    password = request.form.get("password", "")
    stored = user.password_hash if user is not None and user.active else None
    # Verify first, always: an unknown email costs the same hash check as a known one (CWE-208).
    matches = passwords().verify(stored, password)
    if user is None or not matches:
        _throttle().hit(email_key, window)
        page = render_template(
            "kit/login.html", step="password", email=email, next=next_path, error=GENERIC_ERROR
        )
        return page, 200
    assert stored is not None
    if passwords().needs_rehash(stored):
        user.password_hash = passwords().hash(password)
    _throttle().reset(email_key)
    start_session(user, method="password")
    return _after_login(next_path)


@bp.post("/logout")
def logout() -> BaseResponse:
    end_current_session()
    if g.identity is not None:  # signed in centrally: logging out is the gateway's job
        return redirect(current_app.config["GATEWAY_PUBLIC_URL"] + "/")
    return redirect(url_for("auth.login"))

