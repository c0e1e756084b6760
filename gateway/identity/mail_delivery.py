"""Delivering the outbox over SMTP after commit: claimed per row, retried with backoff.

A deliverer takes a due row with one conditional UPDATE that moves its ``next_attempt_at``
past the send (a lease) and counts the attempt; only one process or thread wins a row, on
PostgreSQL and SQLite alike. A deliverer that dies mid-send leaves the row due again when the
lease ends: mail is sent at least once, never lost. A failed attempt waits
``MAIL_RETRY_SECONDS`` doubled per attempt (at most an hour); after ``MAIL_MAX_ATTEMPTS`` the
row is ``failed`` and logged at error level. When the server cannot be reached the round stops
at once: the rows not yet tried keep their attempts for when it is back.

The clock is read at each claim and each failure, never once per round: with a slow server a
lease counted from the round's start would already have run out for its later rows, and
another deliverer would send them again. Once the server has taken a mail, nothing it says
afterwards (a refused ``QUIT``) makes it a failure to be retried.

The outbox keeps no live links: a row that is ``sent`` or ``failed`` loses its body (reset,
verification and email-change links) and keeps recipient, subject, times and status for the
record, so a backup or replica of the database holds nothing usable. The developer mailbox
(``mailbox`` rows, only outside production, which refuses to start without ``SMTP_HOST``)
keeps bodies, since showing them is its job, for ``MAILBOX_KEEP_DAYS``; each round purges older
ones.

Run by each process's background worker (:mod:`gateway.background`, also right after a commit
that queued mail) and by ``flask --app gateway mail deliver`` for cron.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any

from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from gateway.db import new_session
from gateway.models import OutboxMessage, utcnow

log = logging.getLogger("gateway.mail")

#: Longer than any one send can take (SMTP timeout 10 s per step), so a live send keeps its row.
LEASE = timedelta(minutes=5)
LONGEST_WAIT = timedelta(hours=1)
#: Rows per round: a long queue drains over a few rounds without holding the worker.
BATCH = 50
SMTP_TIMEOUT = 10
#: Days the developer mailbox shows a mail: enough to follow a link from yesterday's try.
MAILBOX_KEEP_DAYS = 7
#: The server answered and refused this one mail; any other error stops the round.
_REFUSED_THIS_MAIL = (
    smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError
)


def deliver_due(clock: Callable[[], datetime] = utcnow) -> int:
    """One outbox round: purge the developer mailbox's old mail, then send the due rows (oldest
    first); returns how many were sent. ``clock``: tests' clock."""
    config = current_app.config
    with new_session() as session:
        _purge_mailbox(session, clock())
        if not config["SMTP_HOST"]:
            return 0  # rows were kept for the developer mailbox when written
        return _send_due(config, session, clock)


def _purge_mailbox(session: Session, now: datetime) -> None:
    session.execute(
        delete(OutboxMessage)
        .where(OutboxMessage.status == "mailbox",
               OutboxMessage.created_at < now - timedelta(days=MAILBOX_KEEP_DAYS))
        .execution_options(synchronize_session=False)
    )
    session.commit()


def _send_due(config: Any, session: Session, clock: Callable[[], datetime]) -> int:
    sent = 0
    due = session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= clock())
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(BATCH)
    ).all()
    for row_id in due:
        message = _claim(session, row_id, clock())
        if message is None:
            continue  # another deliverer has it
        try:
            _send(config, message)
        except OSError as exc:  # smtplib's errors are OSErrors too
            _failed(session, message, clock(), exc)
            if not isinstance(exc, _REFUSED_THIS_MAIL):
                break  # the server is away or refuses us: the rest waits, uncharged
            continue
        message.status, message.sent_at, message.last_error = "sent", clock(), None
        message.body = ""  # the links it carried are the recipient's now, not the database's
        session.commit()
        log.info("mail sent to %s: %s", message.recipient, message.subject)
        sent += 1
    return sent


def _claim(session: Session, row_id: int, now: datetime) -> OutboxMessage | None:
    taken = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == row_id, OutboxMessage.status == "pending",
               OutboxMessage.next_attempt_at <= now)
        .values(next_attempt_at=now + LEASE, attempts=OutboxMessage.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    session.commit()
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.get(OutboxMessage, row_id, populate_existing=True)


def _failed(session: Session, message: OutboxMessage, now: datetime, exc: Exception) -> None:
    message.last_error = f"{type(exc).__name__}: {exc}"[:200]
    if message.attempts >= current_app.config["MAIL_MAX_ATTEMPTS"]:
        message.status, message.body = "failed", ""  # never sent: its links stay unusable
        log.error("mail to %s given up after %d attempts: %s (%s)", message.recipient,
                  message.attempts, message.subject, message.last_error)
    else:
        message.next_attempt_at = now + backoff(message.attempts)
        log.warning("mail to %s not sent (attempt %d, retried at %s): %s", message.recipient,
                    message.attempts, message.next_attempt_at.isoformat(), message.last_error)
    session.commit()


def backoff(attempts: int) -> timedelta:
    """The wait after the ``attempts``-th failed attempt: doubling, at most an hour."""
    first = current_app.config["MAIL_RETRY_SECONDS"]
    return min(LONGEST_WAIT, timedelta(seconds=first * 2 ** min(attempts - 1, 20)))


def _send(config: Any, row: OutboxMessage) -> None:
    sender = config["MAIL_FROM"]
    message = EmailMessage()
    message["From"] = sender
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Date"] = format_datetime(row.created_at)
    # The same id on every attempt: a receiver can drop the copy a lost lease may send.
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = f"<outbox.{row.id}.{int(row.created_at.timestamp())}@{domain}>"
    message.set_content(row.body)
    smtp = smtplib.SMTP(config["SMTP_HOST"], config["SMTP_PORT"], timeout=SMTP_TIMEOUT)
    try:
        if config["SMTP_STARTTLS"]:
            smtp.starttls()
        if config["SMTP_USERNAME"]:
            smtp.login(config["SMTP_USERNAME"], config["SMTP_PASSWORD"])
        smtp.send_message(message)
    finally:
        _hang_up(smtp)


def _hang_up(smtp: smtplib.SMTP) -> None:
    """QUIT, whatever the answer: after ``send_message`` returned the mail is the server's
    (``smtplib.SMTP``'s ``with`` raises on a reply other than 221, which would resend it)."""
    try:
        smtp.quit()
    except OSError:  # smtplib's errors included
        log.info("SMTP server refused QUIT; the connection is closed anyway")
    finally:
        smtp.close()
