"""The Console home page: who you are, your products, your plan."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

bp = Blueprint("console", __name__)


@bp.route("/")
@login_required
def home() -> str:
    return render_template("console/home.html", user=current_user.user)


@bp.route("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico before reading the page's icon link: send them to it."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)
