"""The Console home page: who you are, your products, your plan."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import current_user, login_required

bp = Blueprint("console", __name__)


@bp.route("/")
@login_required
def home() -> str:
    return render_template("console/home.html", user=current_user.user)
