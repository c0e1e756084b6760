"""``flask db-upgrade`` and ``flask db-revision``: the schema, through Alembic."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from gateway import migrate


@click.command("db-upgrade")
@with_appcontext
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the latest revision."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo("database is at " + revision)


@click.command("db-revision")
@with_appcontext
@click.argument("message")
def db_revision(message: str) -> None:
    """Write a new migration from the models (developers)."""
    migrate.make_revision(current_app.config["DATABASE_URL"], message)
