"""A product stub's outgoing mail: the local outbox, listed by the developer mailbox page.

The stubs send no real mail. As the gateway does without SMTP, messages are kept in
``outbox_messages`` and shown at ``/dev/mailbox`` outside production. At most
``MAILS_PER_ADDRESS_PER_HOUR`` go to one address (per process), so a public form cannot be
used to flood a stranger's inbox.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template
from sqlalchemy import select
from sqlalchemy.orm import Session

from product_stubs.kit.db import get_db
from product_stubs.kit.models import OutboxMessage
from product_stubs.kit.throttle import Throttle

bp = Blueprint("mailbox", __name__, url_prefix="/dev/mailbox")

HOUR = 3600


def send(db: Session, recipient: str, subject: str, body: str) -> bool:
    """Queue one mail (caller commits); False, and nothing queued, once the address's cap is hit."""
    throttle: Throttle = current_app.extensions["product_throttle"]
    key = f"mail:{recipient}"
    if throttle.retry_after(key, current_app.config["MAILS_PER_ADDRESS_PER_HOUR"], HOUR):
        return False
    throttle.hit(key, HOUR)
    db.add(OutboxMessage(recipient=recipient, subject=subject[:200], body=body))
    return True


@bp.before_request
def _only_outside_production() -> None:
    if current_app.config["APP_ENV"] == "production":
        abort(404)


@bp.get("")
def index() -> str:
    query = select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(100)
    return render_template("kit/mailbox.html", messages=list(get_db().scalars(query)))
