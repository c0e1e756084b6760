"""``GET /.well-known/jwks.json``: the public keys products verify assertions with (RFC 7517).

No session, no CSRF, public data. ``Cache-Control: max-age`` (``JWKS_MAX_AGE``) tells products
how long to cache it; a staged key is listed at least that long before it signs.
"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from werkzeug.wrappers import Response

from gateway.keys import key_store

bp = Blueprint("jwks", __name__)


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    response = jsonify(key_store().jwks())
    response.mimetype = "application/jwk-set+json"
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['JWKS_MAX_AGE']}"
    return response
