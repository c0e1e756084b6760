"""Request-size limits, enforced before anything parses a body."""

from __future__ import annotations

from flask import Flask, abort, current_app, request


def init_app(app: Flask) -> None:
    app.before_request(refuse_oversized_forms)


def refuse_oversized_forms() -> None:
    """413 before anything parses an oversized form (the proxy streams and is exempt)."""
    if request.blueprint == "proxy" or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    limit = current_app.config["MAX_FORM_MEMORY_SIZE"]
    if request.content_length is not None and request.content_length > limit:
        abort(413)
