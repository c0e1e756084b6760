"""Outgoing mail: SMTP when ``SMTP_HOST`` is set, otherwise the local outbox table."""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from flask import current_app

from gateway.db import db
from gateway.models import OutboxMessage

log = logging.getLogger("gateway.mail")


def send_mail(recipient: str, subject: str, body: str) -> bool:
    """Send now over SMTP, or keep in the outbox (demo/development/test).

    Returns False when the SMTP server could not take the message; callers tell the person to
    retry (every mail we send can be asked for again).
    """
    config = current_app.config
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
