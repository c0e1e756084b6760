"""``flask audit prune``: remove audit rows older than ``AUDIT_RETENTION_DAYS`` now (each
serving process's background round does the same)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gateway.identity import audit_log

audit_cli = AppGroup("audit", help="The audit log.")


@audit_cli.command("prune")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Keep this many days instead of AUDIT_RETENTION_DAYS.")
def prune(days: int | None) -> None:
    """Remove audit rows older than the retention period."""
    click.echo(f"removed {audit_log.prune(days)} audit row(s)")
