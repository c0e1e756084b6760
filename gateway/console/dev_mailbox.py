"""Developer mailbox: the outbox rows kept because no SMTP server is configured, as a page.
Only in development, demo and test."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import select

from gateway.db import db
from gateway.models import OutboxMessage

bp = Blueprint("mailbox", __name__, url_prefix="/dev/mailbox")


@bp.before_request
def _only_outside_production() -> None:
    if current_app.config["APP_ENV"] == "production" or current_app.config["SMTP_HOST"]:
        abort(404)


@bp.route("")
def index() -> str:
    query = (select(OutboxMessage).where(OutboxMessage.status == "mailbox")
             .order_by(OutboxMessage.id.desc()).limit(100))
    return render_template("dev/mailbox.html", messages=list(db().scalars(query)))
