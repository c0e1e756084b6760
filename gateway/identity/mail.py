"""Outgoing mail goes into the outbox, in the transaction of the change it announces.

``send_mail`` only adds an ``outbox_messages`` row to the current session: a change that rolls
back takes its mail with it, and a committed one is delivered afterwards by
:mod:`gateway.identity.mail_delivery` (retries, backoff), never inline before the commit.
Without ``SMTP_HOST`` (demo, development, test) the row is kept for the developer mailbox.

Every mail passes one per-recipient cap (``MAIL_PER_HOUR``): anyone can make the gateway mail
an address (sign-up, resend, email-change confirmation), so without it an inbox can be flooded.
Notices about a change made inside the recipient's own account (password, 2FA, email) skip the
cap: only the account holder can cause them, and an attacker who first spent the cap must not
be able to act unseen.

Every value a person typed or sent (a passkey name, a device name from a User-Agent, an
address) passes :func:`mail_text` on its way into a mail's text or subject: a line break or a
control character in it would write lines of its own into a security notice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from gateway.db import db
from gateway.identity import throttle
from gateway.models import OutboxMessage

log = logging.getLogger("gateway.mail")

#: Marks a session that queued mail for SMTP since its last commit.
_QUEUED = "gateway.mail.queued"
#: ``app.extensions`` key of the callable that asks for a prompt delivery after a commit
#: (set by the process's background worker, :mod:`gateway.background`).
_KICK = "gateway.mail.kick"


def mail_text(value: str) -> str:
    """User input (a passkey name, say) made safe for a mail's text or subject: every character
    that is not printable (line breaks, control, format and bidi characters) becomes a space and
    runs of spaces one, so the value stays on its line and cannot pose as a header or a line of
    our own."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def send_mail(recipient: str, subject: str, body: str, *, notice: bool = False) -> bool:
    """Queue a mail in the current session; it leaves only if that session commits.

    Returns True when queued, False when dropped because the recipient's cap is spent (pages
    look the same either way, so callers need not check). Delivery failures come later and are
    retried (``MAIL_MAX_ATTEMPTS``); they are not the caller's concern.
    ``notice``: about a change the recipient's own signed-in account just made (never capped).
    """
    subject = mail_text(subject)  # a header: never more than one line, whatever went into it
    if not notice and not throttle.allow_mail(recipient):
        log.info("mail to %s dropped (per-recipient cap): %s", recipient, subject)
        return False
    session = db()
    smtp = bool(current_app.config["SMTP_HOST"])
    session.add(OutboxMessage(recipient=recipient, subject=subject[:200], body=body,
                              status="pending" if smtp else "mailbox"))
    if smtp:
        session.info[_QUEUED] = current_app.extensions.get(_KICK)
    return True


def on_queued_commit(app: Flask, kick: Callable[[], None]) -> None:
    """Call ``kick`` after each commit that queued mail (cheap: it only wakes a thread)."""
    app.extensions[_KICK] = kick


@event.listens_for(Session, "after_commit")
def _kick_after_commit(session: Session) -> None:
    # The mark survives a rollback on purpose: a spurious kick finds nothing to send, while a
    # lost one (a savepoint rolled back inside a committed transaction) would delay the mail.
    kick = session.info.pop(_QUEUED, None)
    if kick is not None:
        kick()
