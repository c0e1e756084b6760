"""Mail goes through the outbox: written with the change it announces, sent after the commit
over a real SMTP server on loopback, retried with backoff while the server is down, sent once
when several deliverers run, and never for a change that rolled back."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import create_engine, select, text

from gateway import migrate
from gateway.db import db, new_session
from gateway.identity import mail_delivery
from gateway.identity.mail import send_mail
from gateway.models import OutboxMessage, utcnow
from tests.support.console import Actions, make_gateway_app
from tests.support.smtp_server import SMTPServer

RESET = "Reset your password"


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    server = SMTPServer()
    server.start()
    yield server
    server.stop()


def smtp_app(database_url: str, smtp: SMTPServer, **overrides: object) -> Flask:
    return make_gateway_app(database_url, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port, **overrides)


def ask_for_reset(app: Flask, email: str = "mail@example.com") -> Actions:
    actions = Actions(app, app.test_client())
    actions.create_user(email)
    assert actions.post("/forgot-password", email=email).status_code == 200
    return actions


def deliver(app: Flask, at_seconds: float = 0, clock: Callable[[], datetime] | None = None) -> int:
    """One round of ``app``'s deliverer, on the wall clock moved by ``at_seconds`` or on
    ``clock``."""
    with app.app_context():
        return mail_delivery.deliver_due(
            clock or (lambda: utcnow() + timedelta(seconds=at_seconds)))


def outbox(app: Flask) -> list[OutboxMessage]:
    with app.app_context(), new_session() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_mail_leaves_only_after_the_commit_and_is_delivered_then(
    database_url: str, smtp: SMTPServer
) -> None:
    app = smtp_app(database_url, smtp)
    ask_for_reset(app)
    assert smtp.received == []  # queued with the request's change, not sent inline
    assert deliver(app) == 1
    assert smtp.subjects() == [RESET]
    assert smtp.received[0]["To"] == "mail@example.com"
    assert [(m.status, m.attempts) for m in outbox(app)] == [("sent", 1)]
    assert deliver(app) == 0  # sent once


def test_a_sent_mail_leaves_no_live_link_in_the_outbox(database_url: str, smtp: SMTPServer) -> None:
    """A backup or replica of the database must not hold usable reset links: once sent, a
    row keeps who, what and when, not the body."""
    app = smtp_app(database_url, smtp)
    ask_for_reset(app)
    assert deliver(app) == 1
    assert "/reset-password?token=" in smtp.received[0].get_content()
    [row] = outbox(app)
    assert (row.status, row.recipient, row.subject) == ("sent", "mail@example.com", RESET)
    assert row.sent_at is not None and row.body == ""


def test_mail_sent_before_the_upgrade_loses_its_links(tmp_path: object) -> None:
    url = f"sqlite:///{tmp_path}/upgraded.db"
    migrate.upgrade(url, "7e3b5c9d1a24")
    engine = create_engine(url)
    with engine.begin() as connection:
        for status in ("sent", "failed", "pending"):
            connection.execute(text(
                "INSERT INTO outbox_messages (recipient, subject, body, created_at, status, "
                "attempts, next_attempt_at) VALUES ('old@example.com', :status, 'link', "
                "CURRENT_TIMESTAMP, :status, 1, CURRENT_TIMESTAMP)"), {"status": status})
    migrate.upgrade(url)
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT subject, body FROM outbox_messages")).all()
    engine.dispose()
    assert sorted(rows) == [("failed", ""), ("pending", "link"), ("sent", "")]


def test_the_developer_mailbox_forgets_old_mail(database_url: str) -> None:
    app = make_gateway_app(database_url)
    actions = ask_for_reset(app)
    deliver(app, at_seconds=24 * 3600)
    assert RESET in actions.client.get("/dev/mailbox").get_data(as_text=True)
    deliver(app, at_seconds=(mail_delivery.MAILBOX_KEEP_DAYS + 1) * 24 * 3600)
    assert outbox(app) == []
    assert RESET not in actions.client.get("/dev/mailbox").get_data(as_text=True)


def test_a_rolled_back_change_sends_nothing(database_url: str, smtp: SMTPServer) -> None:
    app = smtp_app(database_url, smtp)
    with app.test_request_context():
        assert send_mail("undone@example.com", "About a change", "It happened.", notice=True)
        db().rollback()  # the change it announced failed
    assert deliver(app) == 0
    assert smtp.received == [] and outbox(app) == []


def test_mail_queued_while_smtp_is_down_is_sent_when_it_returns(
    database_url: str, smtp: SMTPServer
) -> None:
    app = smtp_app(database_url, smtp, MAIL_RETRY_SECONDS=30)
    smtp.stop()
    ask_for_reset(app)
    assert deliver(app) == 0
    [waiting] = outbox(app)
    assert (waiting.status, waiting.attempts) == ("pending", 1) and waiting.last_error
    assert deliver(app, at_seconds=10) == 0  # backing off: not tried again yet
    assert outbox(app)[0].attempts == 1
    smtp.start()
    assert deliver(app, at_seconds=31) == 1
    assert smtp.subjects() == [RESET]
    assert [(m.status, m.attempts) for m in outbox(app)] == [("sent", 2)]


def test_the_wait_doubles_and_mail_is_given_up_visibly(
    database_url: str, smtp: SMTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    app = smtp_app(database_url, smtp, MAIL_RETRY_SECONDS=30, MAIL_MAX_ATTEMPTS=3)
    smtp.stop()
    ask_for_reset(app)
    deliver(app)
    first = outbox(app)[0].next_attempt_at
    deliver(app, at_seconds=31)
    second = outbox(app)[0].next_attempt_at
    assert timedelta(seconds=55) < second - first < timedelta(seconds=65)  # 30 s, then 60 s
    with caplog.at_level(logging.ERROR, logger="gateway.mail"):
        deliver(app, at_seconds=200)
    [gone] = outbox(app)
    assert (gone.status, gone.attempts) == ("failed", 3)
    assert gone.body == "" and gone.subject == RESET  # no live link kept for the record
    assert "given up after 3 attempts" in caplog.text
    smtp.start()
    assert deliver(app, at_seconds=10_000) == 0 and smtp.received == []


def test_deliverers_in_several_processes_send_each_mail_once(
    database_url: str, smtp: SMTPServer
) -> None:
    app = smtp_app(database_url, smtp, MAIL_PER_HOUR=100, RESET_MAX_PER_ADDRESS=100)
    actions = ask_for_reset(app)
    for _ in range(5):
        actions.post("/forgot-password", email="mail@example.com")
    other_process = smtp_app(database_url, smtp)  # its own engine and connections
    start = threading.Barrier(2)

    def run(instance: Flask) -> None:
        start.wait()
        deliver(instance)

    threads = [threading.Thread(target=run, args=(a,)) for a in (app, other_process)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(smtp.received) == 6
    assert len({m["Message-ID"] for m in smtp.received}) == 6
    assert all(m.status == "sent" and m.attempts == 1 for m in outbox(app))


def test_a_slow_server_never_lets_a_claimed_mail_be_sent_twice(
    database_url: str, smtp: SMTPServer
) -> None:
    """Each mail takes two minutes to go: a lease counted from the start of the round would
    run out under later rows, and another process's deliverer would send them again."""
    app = smtp_app(database_url, smtp, MAIL_PER_HOUR=100, RESET_MAX_PER_ADDRESS=100)
    actions = ask_for_reset(app)
    for _ in range(5):
        actions.post("/forgot-password", email="mail@example.com")
    other_process = smtp_app(database_url, smtp)
    now = [utcnow()]

    def slow(count: int) -> None:
        now[0] += timedelta(minutes=2)
        if count == 4:  # while the 4th mail is being sent, the other process runs a round
            deliver(other_process, clock=lambda: now[0])

    smtp.on_message = slow
    deliver(app, clock=lambda: now[0])
    assert len(smtp.received) == 6
    assert len({m["Message-ID"] for m in smtp.received}) == 6
    assert all(m.status == "sent" and m.attempts == 1 for m in outbox(app))


def test_a_refused_quit_after_the_mail_went_is_no_failure(database_url: str) -> None:
    """The server took the mail; what it answers to QUIT cannot make it unsent."""
    server = SMTPServer(quit_reply="421 Closing anyway")
    server.start()
    try:
        app = smtp_app(database_url, server, MAIL_RETRY_SECONDS=30)
        ask_for_reset(app)
        assert deliver(app) == 1
        assert deliver(app, at_seconds=3600) == 0
        assert server.subjects() == [RESET]
        assert [(m.status, m.attempts) for m in outbox(app)] == [("sent", 1)]
    finally:
        server.stop()


def test_a_serving_process_delivers_right_after_the_commit(
    database_url: str, smtp: SMTPServer
) -> None:
    # The timer's round is an hour away: only the kick after the commit can send it.
    app = smtp_app(database_url, smtp, background_work=True, BACKGROUND_INTERVAL_SECONDS=3600)
    ask_for_reset(app)
    assert smtp.wait_for(1), "mail not delivered after the commit"
    assert smtp.subjects() == [RESET]


def test_cron_delivers_with_the_cli(database_url: str, smtp: SMTPServer) -> None:
    app = smtp_app(database_url, smtp)
    ask_for_reset(app)
    result = app.test_cli_runner().invoke(args=["mail", "deliver"])
    assert result.exit_code == 0 and "sent 1 mail(s)" in result.output
    assert smtp.subjects() == [RESET]


def test_without_smtp_mail_is_kept_for_the_developer_mailbox(database_url: str) -> None:
    app = make_gateway_app(database_url)
    actions = ask_for_reset(app)
    assert [m.status for m in outbox(app)] == ["mailbox"]
    assert deliver(app) == 0
    assert RESET in actions.client.get("/dev/mailbox").get_data(as_text=True)


def test_mail_kept_before_the_outbox_upgrade_is_never_sent(
    tmp_path: object, smtp: SMTPServer
) -> None:
    # Rows from before the outbox had a status were the developer mailbox's: setting SMTP_HOST
    # afterwards must not mail them out.
    url = f"sqlite:///{tmp_path}/upgraded.db"
    migrate.upgrade(url, "9a4c7e2b1f60")
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO outbox_messages (recipient, subject, body, created_at) "
            "VALUES ('old@example.com', 'Old demo mail', 'x', CURRENT_TIMESTAMP)"))
    engine.dispose()
    migrate.upgrade(url)
    app = smtp_app(url, smtp)
    assert deliver(app) == 0 and smtp.received == []
    assert [m.status for m in outbox(app)] == ["mailbox"]
