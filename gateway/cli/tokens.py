"""``flask tokens prune``: remove the spent single-use ids (mailed links, SAML assertions)
nothing could present again, now (each serving process's background round does the same)."""

from __future__ import annotations

import click
from flask.cli import AppGroup

from gateway.identity import tokens

tokens_cli = AppGroup("tokens", help="Spent single-use ids (used_tokens).")


@tokens_cli.command("prune")
def prune() -> None:
    """Remove spent ids past their usefulness."""
    click.echo(f"removed {tokens.prune_spent()} spent id(s)")
