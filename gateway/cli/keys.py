"""Operator commands to rotate a product's assertion keys without downtime: ``flask keys ...``.

Keys live in ``<ASSERTION_KEY_DIR>/<product>.keys`` (default ``instance/keys``), one per line,
oldest first, read by the gateway and by the product (``gateway.assertion.KeyFile``), each
re-reading the file within a second of a change. When the file exists it overrides the
``<PRODUCT>_ASSERTION_KEYS`` setting; ``keys init`` seeds it from that setting.

Rotation, in three steps that never leave a process unable to verify what another signs:

1. ``stage``: append ``+<new key>``. Products accept it; the gateway still signs with the old key.
2. ``promote`` (after every process re-read the file): the staged key becomes the newest active
   key, so the gateway signs with it; products already accept it.
3. ``retire`` (after one assertion lifetime): drop every key but the newest.

``rotate`` runs the three steps with the waits in between. For products on another host, copy
the file there after each step (or put the same list in the product's environment, restarting
it, before ``promote``).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time

import click
from flask import current_app
from flask.cli import AppGroup

from gateway.assertion import parse_key_lines

keys_cli = AppGroup("keys", help="Rotate the products' identity-assertion keys.")

#: How long every process needs to notice a changed key file (``KeyFile`` checks each second).
RELOAD_SECONDS = 2



product_argument = click.argument("product")


def key_path(product: str) -> str:
    """The key file of ``product``, one of the configured ``PRODUCTS``."""
    if product not in current_app.config["PRODUCTS"]:
        names = ", ".join(current_app.config["PRODUCTS"])
        raise click.BadParameter(f"{product!r} is not one of {names}", param_hint="PRODUCT")
    folder = current_app.config["ASSERTION_KEY_DIR"]
    return os.path.join(folder, f"{product}.keys")


def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip() and not line.startswith("#")]


def write_lines(path: str, lines: list[str]) -> None:
    """Replace the file atomically (readers never see half a file), owner-readable only."""
    folder = os.path.dirname(path) or "."
    os.makedirs(folder, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=folder, prefix=".keys-")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write("# assertion keys, oldest first; '+' marks a staged key (accepted, unused)\n")
        out.write("\n".join(lines) + "\n")
    os.chmod(temporary, 0o600)
    os.replace(temporary, path)


def _existing(product: str) -> list[str]:
    path = key_path(product)
    if not os.path.exists(path):
        raise click.ClickException(f"{path} does not exist; run 'flask keys init {product}' first")
    return read_lines(path)


def new_key() -> str:
    return secrets.token_urlsafe(48)


@keys_cli.command("init")
@product_argument
def init_keys(product: str) -> None:
    """Create the key file from the configured key list (no change in behaviour)."""
    path = key_path(product)
    if os.path.exists(path):
        raise click.ClickException(f"{path} already exists")
    configured = current_app.config[f"{product.upper()}_ASSERTION_KEYS"]
    write_lines(path, list(configured))
    click.echo(f"wrote {path} with {len(configured)} key(s)")


@keys_cli.command("stage")
@product_argument
def stage(product: str) -> None:
    """Step 1: add a new key that products accept but the gateway does not sign with yet."""
    lines = _existing(product)
    if any(line.startswith("+") for line in lines):
        raise click.ClickException("a key is already staged; promote it first")
    write_lines(key_path(product), lines + ["+" + new_key()])
    click.echo(f"staged a new {product} key; wait {RELOAD_SECONDS}s, then promote")


@keys_cli.command("promote")
@product_argument
def promote(product: str) -> None:
    """Step 2: sign with the staged key from now on (older keys still verify)."""
    lines = _existing(product)
    staged = [line for line in lines if line.startswith("+")]
    if not staged:
        raise click.ClickException("no staged key; run stage first")
    active = [line for line in lines if not line.startswith("+")]
    write_lines(key_path(product), active + [line[1:] for line in staged])
    click.echo(f"the gateway now signs {product} assertions with the new key")


@keys_cli.command("retire")
@product_argument
def retire(product: str) -> None:
    """Step 3: drop every key but the newest active one."""
    accepted, active = parse_key_lines(_existing(product))
    if not active:
        raise click.ClickException("no active key in the file")
    write_lines(key_path(product), [active[-1]])
    click.echo(f"retired {len(accepted) - 1} old {product} key(s)")


@keys_cli.command("rotate")
@product_argument
@click.option("--wait/--no-wait", default=True, help="Sleep between the steps (default).")
def rotate(product: str, wait: bool) -> None:
    """stage, promote, retire, with the waits that keep every request verifiable."""
    ctx = click.get_current_context()
    if not os.path.exists(key_path(product)):
        ctx.invoke(init_keys, product=product)
    ctx.invoke(stage, product=product)
    if wait:
        time.sleep(RELOAD_SECONDS)
    ctx.invoke(promote, product=product)
    if wait:
        max_age = int(current_app.config["ASSERTION_MAX_AGE"])
        click.echo(f"waiting {max_age + RELOAD_SECONDS}s for assertions signed with the old key")
        time.sleep(max_age + RELOAD_SECONDS)
    ctx.invoke(retire, product=product)


@keys_cli.command("show")
@product_argument
def show(product: str) -> None:
    """How many keys are active and staged, and where they come from (never the keys)."""
    path = key_path(product)
    if not os.path.exists(path):
        configured = current_app.config[f"{product.upper()}_ASSERTION_KEYS"]
        click.echo(f"{product}: {len(configured)} key(s) from configuration (no {path})")
        return
    accepted, active = parse_key_lines(read_lines(path))
    click.echo(f"{product}: {len(active)} active, {len(accepted) - len(active)} staged in {path}")
