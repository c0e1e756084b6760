"""The gateway's assertion signing keys: the shared key directory, and the public JWKS.

``store`` keeps ES256 private keys as PEM files (0600) plus a small state file (staged, active,
previous, retiring) in ``ASSERTION_KEY_DIR``, which every gateway instance shares; ``jwks``
publishes the public halves at ``/.well-known/jwks.json``. ``flask keys`` (``gateway.cli.keys``)
rotates them.
"""

from __future__ import annotations

from flask import Flask, current_app

import config
from gateway.keys.store import KeyStore, NoSigningKey

_EXT = "gateway.keys"


def init_app(app: Flask, *, key_commands: bool = False) -> None:
    """Bind the key store; outside production, create a demo key when there is none.

    Production refuses a missing or demo signing key, except for the ``flask keys`` commands
    (``key_commands``), which exist to make and rotate it."""
    store = KeyStore(app.config["ASSERTION_KEY_DIR"])
    if app.config["APP_ENV"] != "production":
        store.ensure(demo=True)
    elif not key_commands:
        _refuse_unusable_key(store)
    app.extensions[_EXT] = store


def _refuse_unusable_key(store: KeyStore) -> None:
    try:
        key = store.signing_key()
    except NoSigningKey:
        raise config.ConfigError(
            "no assertion signing key in ASSERTION_KEY_DIR; run 'flask keys init'"
        ) from None
    if key.demo:
        raise config.ConfigError(
            "the assertion signing key is a demo key; refusing to start in production"
        )


def key_store(app: Flask | None = None) -> KeyStore:
    """The key store of ``app`` (default: the current app)."""
    store: KeyStore = (app or current_app).extensions[_EXT]
    return store
