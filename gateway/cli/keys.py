"""Operator commands for the assertion signing keys, rotated with no product change: ``flask keys``.

The keys live in ``ASSERTION_KEY_DIR`` (``gateway.keys.store``), shared by every gateway
instance, which re-read it within a second. Products only ever see the public JWKS.

- ``init``: the first (non-demo) key, for a production deployment.
- Rotation, in three steps that never leave a product unable to verify what the gateway signs:

  1. ``stage``: a new key appears in ``/.well-known/jwks.json``; the gateway does not sign with
     it yet. Wait ``JWKS_MAX_AGE`` seconds, until every product's cached JWKS lists it.
  2. ``promote``: the gateway signs with the staged key; the old one stays published.
  3. ``retire``: the old key leaves the JWKS after one assertion lifetime plus the JWKS
     max-age (``ASSERTION_MAX_AGE + JWKS_MAX_AGE``); a later ``retire`` deletes its file.

- ``rotate`` runs the three steps with the wait in between; ``show`` lists kids and states
  (never key material); ``jwks`` prints the public set, for products pinned to a JWKS file.

In production the gateway refuses to start without a signing key, except for these commands
(:func:`requested`): ``keys init`` is how the first key is made, and an operator must never
need ``APP_ENV=demo`` (which opens the developer mailbox) to run it.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence

import click
from flask import current_app
from flask.cli import AppGroup

from gateway.keys import key_store
from gateway.keys.store import KeyStateError

#: Options of the ``flask`` command itself that take a value (``flask --app gateway keys``).
_FLASK_OPTIONS_WITH_VALUE = {"-A", "--app", "-e", "--env-file"}


def requested(argv: Sequence[str] | None = None) -> bool:
    """Whether this process is ``flask … keys …``: the app is being built for a key command.

    Flask builds the app before it looks the command up, so the factory asks here. Only the
    command name counts (the first word after the ``flask`` options), never an argument."""
    if os.environ.get("FLASK_RUN_FROM_CLI") != "true":  # set by the flask command
        return False
    words = iter((sys.argv if argv is None else argv)[1:])
    for word in words:
        if word in _FLASK_OPTIONS_WITH_VALUE:
            next(words, None)
        elif not word.startswith("-"):
            return word == keys_cli.name
    return False


keys_cli = AppGroup("keys", help="Rotate the gateway's identity-assertion signing keys.")

#: How long every gateway process needs to notice a changed key directory (checked each second).
RELOAD_SECONDS = 2


def _step(action):  # type: ignore[no-untyped-def]
    try:
        return action()
    except KeyStateError as exc:
        raise click.ClickException(str(exc)) from None


def _grace() -> int:
    config = current_app.config
    return int(config["ASSERTION_MAX_AGE"]) + int(config["JWKS_MAX_AGE"])


@keys_cli.command("init")
def init_keys() -> None:
    """Create the first signing key (a production deployment starts with this)."""
    entry = _step(key_store().init)
    click.echo(f"created signing key {entry.kid} in {key_store().folder}")


@keys_cli.command("stage")
def stage() -> None:
    """Step 1: publish a new key in the JWKS; the gateway does not sign with it yet."""
    entry = _step(key_store().stage)
    wait = int(current_app.config["JWKS_MAX_AGE"]) + RELOAD_SECONDS
    click.echo(f"staged key {entry.kid}; wait {wait}s (JWKS max-age), then promote")


@keys_cli.command("promote")
def promote() -> None:
    """Step 2: sign with the staged key from now on (the old key stays published)."""
    entry = _step(key_store().promote)
    click.echo(f"the gateway now signs with {entry.kid}; run retire for the old key")


@keys_cli.command("retire")
def retire() -> None:
    """Step 3: drop the previous keys from the JWKS after their grace period."""
    retiring = _step(lambda: key_store().retire(_grace()))
    click.echo(f"{len(retiring)} key(s) retiring: out of the JWKS within {_grace()}s")


@keys_cli.command("rotate")
@click.option("--wait/--no-wait", default=True, help="Sleep between stage and promote (default).")
def rotate(wait: bool) -> None:
    """stage, wait for every product's JWKS cache, promote, retire."""
    ctx = click.get_current_context()
    ctx.invoke(stage)
    if wait:
        time.sleep(int(current_app.config["JWKS_MAX_AGE"]) + RELOAD_SECONDS)
    ctx.invoke(promote)
    ctx.invoke(retire)


@keys_cli.command("show")
def show() -> None:
    """Each key's kid and state (never key material)."""
    entries = key_store().entries()
    if not entries:
        click.echo(f"no keys in {key_store().folder}; run 'flask keys init'")
    for entry in entries:
        demo = " (demo key, refused in production)" if entry.demo else ""
        until = f" until {int(entry.until)}" if entry.until is not None else ""
        click.echo(f"{entry.kid} {entry.state}{until}{demo}")


@keys_cli.command("jwks")
def jwks() -> None:
    """Print the public JWK Set (for products pinned to a JWKS file, JWKS_FILE)."""
    click.echo(json.dumps(key_store().jwks(), indent=1))
