"""Sign-up that proves the mailbox (CWE-287): no user exists until the address owner acts.

``POST /signup`` takes only an email and answers "check your inbox" whatever the address
(taken or not, and whether or not the mail cap let a mail out), so it reveals no account.
A new address gets a signed link (``SECRET_KEY``, ``SIGNUP_LINK_MAX_AGE``); the password is
chosen on the page it opens, so whoever reads the mailbox sets it: a sign-up made by someone
else with your address creates nothing, blocks no Console "create a new user", links nothing
and accepts no invitation. A taken address gets a "you already have a user" notice instead.
The link is built from ``SITE_URL``, never from the request's Host.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, render_template, request, url_for
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response as BaseResponse

from product_stubs.kit.auth import ip_limited
from product_stubs.kit.db import get_db
from product_stubs.kit.identity import profile, start_session
from product_stubs.kit.mail import send
from product_stubs.kit.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from product_stubs.kit.users import (
    InvalidEmail,
    create_user_with_container,
    normalise_email,
    user_by_email,
)

bp = Blueprint("signup", __name__, template_folder="templates")

SALT = "product-signup.v1"
TAKEN = "An account with this email already exists. Sign in instead."


def _links() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def _page(template: str, status: int = 200, **context: object) -> Response:
    response = Response(render_template(template, **context), status=status, mimetype="text/html")
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the URL
    return response


@bp.route("/signup", methods=["GET", "POST"])
def start() -> Response:
    if request.method == "GET":
        return _page("kit/signup.html", email="")
    limited = ip_limited()
    if limited is not None:
        return limited
    try:
        email = normalise_email(request.form.get("email", ""))
    except InvalidEmail:
        return _page("kit/signup.html", 400, email="", error="Enter a valid email address.")
    db = get_db()
    site, title = current_app.config["SITE_URL"], profile().title
    if user_by_email(db, email) is None:
        link = f"{site}/signup/confirm/{_links().dumps(email)}"
        hours = current_app.config["SIGNUP_LINK_MAX_AGE"] // 3600
        body = (
            f"Someone, hopefully you, asked for a {title} user for {email}.\n\n"
            f"Choose your password here to finish (the link works for {hours} hours):\n{link}\n\n"
            "If it was not you, ignore this mail: nothing has been created."
        )
    else:
        body = (
            f"Someone asked for a {title} user for {email}, but you already have one.\n\n"
            f"Sign in here: {site}/login\n\nIf it was not you, ignore this mail."
        )
    send(db, email, f"Your {title} sign-up", body)
    db.commit()
    return _page("kit/signup.html", sent=email)


@bp.route("/signup/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str) -> BaseResponse:
    try:
        email = _links().loads(token, max_age=current_app.config["SIGNUP_LINK_MAX_AGE"])
    except BadSignature:
        email = None
    if not isinstance(email, str):
        message = "This sign-up link is invalid or has expired. Sign up again."
        return _page("kit/error.html", 400, code=400, message=message)
    db = get_db()
    if user_by_email(db, email) is not None:
        return _page("kit/error.html", 409, code=409, message=TAKEN)
    if request.method == "GET":
        return _page("kit/signup_confirm.html", email=email, token=token)
    limited = ip_limited()
    if limited is not None:
        return limited
    password = request.form.get("password", "")
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        error = f"Use a password of {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters."
        return _page("kit/signup_confirm.html", 400, email=email, token=token, error=error)
    try:
        with db.begin_nested():
            user = create_user_with_container(db, email, password=password, container_name=email)
        db.commit()
    except IntegrityError:  # the same link used twice at once, or a Console creation won
        db.rollback()
        return _page("kit/error.html", 409, code=409, message=TAKEN)
    start_session(user, method="password")
    return redirect(url_for("teams.home"))
