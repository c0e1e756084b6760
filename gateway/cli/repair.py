"""``flask email-change repair``: settle email changes a crash or an outage left midway."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gateway.products import propagation

email_change_cli = AppGroup("email-change", help="Repair interrupted email changes.")


@email_change_cli.command("repair")
@click.option("--stale-seconds", type=int, default=None,
              help="Only changes idle this long (default EMAIL_CHANGE_STALE_SECONDS).")
def repair_email_changes(stale_seconds: int | None) -> None:
    """Roll back email changes a crash or an outage left midway; expire old pending ones."""
    settled = propagation.repair(stale_seconds)
    expired = propagation.expire_pending()
    click.echo(f"rolled back {settled} interrupted change(s), expired {expired} pending")
