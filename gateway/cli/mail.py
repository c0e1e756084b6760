"""``flask mail deliver``: send the outbox's due mail now (cron, or after an SMTP outage)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gateway.identity import mail_delivery

mail_cli = AppGroup("mail", help="Deliver the mail outbox.")


@mail_cli.command("deliver")
def deliver() -> None:
    """Send every due mail of the outbox over SMTP (each serving process also does, on a timer)."""
    total = 0
    while sent := mail_delivery.deliver_due():
        total += sent
    click.echo(f"sent {total} mail(s)")
