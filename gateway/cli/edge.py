"""``flask --app gateway edge nginx|caddy``: the edge configuration for this gateway's products.

Prints what ``config/edge`` generates from the products file the gateway loaded
(``PRODUCTS_FILE``, with any ``<NAME>_UPSTREAM`` override); for the shipped file and the demo
addresses that is exactly the shipped ``config/edge`` files, which a test holds in sync.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from config import edge as edge_config
from config.gateway import PRODUCT_SPECS


@click.command("edge")
@click.argument("kind", type=click.Choice(edge_config.EDGES))
@click.option("--listen", default=edge_config.DEFAULTS["listen"], show_default=True,
              help="public entry of the edge (host:port)")
@click.option("--gateway", default=edge_config.DEFAULTS["gateway"], show_default=True,
              help="where the edge reaches the gateway (host:port)")
@click.option("--answers", default=edge_config.DEFAULTS["answers"], show_default=True,
              help="where the edge asks forward-auth: the answer server (host:port)")
@click.option("--file", "name", default=None,
              help="one file of the configuration (nginx: nginx.conf or gateway_product.conf)")
@with_appcontext
def edge_cli(kind: str, listen: str, gateway: str, answers: str, name: str | None) -> None:
    """Print the nginx or Caddy configuration for the products of PRODUCTS_FILE."""
    files = edge_config.generate(
        kind, current_app.config[PRODUCT_SPECS], listen=listen, gateway=gateway,
        answers=answers,
    )
    if name is not None and name not in files:
        raise click.BadParameter(f"one of {', '.join(files)}", param_hint="--file")
    click.echo(files[name or edge_config.FILES[kind][0]], nl=False)
