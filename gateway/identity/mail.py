"""Outgoing mail: SMTP when ``SMTP_HOST`` is set, otherwise the local outbox table.

Every mail passes one per-recipient cap (``MAIL_PER_HOUR``): anyone can make the gateway mail
an address (sign-up, resend, email-change confirmation), so without it an inbox can be flooded.
Notices about a change made inside the recipient's own account (password, 2FA, email) skip the
cap: only the account holder can cause them, and an attacker who first spent the cap must not
be able to act unseen.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from gateway.db import db
from gateway.identity import throttle
from gateway.models import OutboxMessage

log = logging.getLogger("gateway.mail")


def mail_text(value: str) -> str:
    """User input (a passkey name, say) made safe for a mail's text: control and format
    characters, line breaks included, become single spaces, so the value stays on its line and
    cannot pose as a header or a line of our own."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())


def send_mail(recipient: str, subject: str, body: str, *, notice: bool = False) -> bool:
    """Send now over SMTP, or keep in the outbox (demo/development/test).

    Returns False when the mail did not go: over the recipient's cap (dropped silently, pages
    look the same either way) or refused by the SMTP server (every mail can be asked again).
    ``notice``: about a change the recipient's own signed-in account just made (never capped).
    """
    config = current_app.config
    if not notice and not throttle.allow_mail(recipient):
        log.info("mail to %s dropped (per-recipient cap): %s", recipient, subject)
        return False
    if not config["SMTP_HOST"]:
        db().add(OutboxMessage(recipient=recipient, subject=subject, body=body))
        return True
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = recipient
    message["Subject"] = subject
    message.set_content(body)
    try:
        with smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=10) as smtp:
            if config["SMTP_STARTTLS"]:
                smtp.starttls()
            if config["SMTP_USERNAME"]:
                smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException):
        log.exception("mail to %s failed: %s", recipient, subject)
        return False
    log.info("mail sent to %s: %s", recipient, subject)
    return True
