"""Flask extensions, created at module level and bound to an app in ``init_app``."""

from __future__ import annotations

from flask import Flask, abort, current_app, request
from flask_wtf.csrf import CSRFProtect

from gateway import observability, security_headers, switcher, templating
from gateway.sessions import RememberingCookieSessions, login_manager

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    observability.init_app(app)
    security_headers.init_app(app)
    app.before_request(_refuse_oversized_forms)
    csrf.init_app(app)
    login_manager.init_app(app)
    app.session_interface = RememberingCookieSessions()
    switcher.init_app(app)
    templating.init_app(app)


def _refuse_oversized_forms() -> None:
    """413 before anything parses an oversized form (the proxy streams and is exempt)."""
    if request.blueprint == "proxy" or request.method in ("GET", "HEAD", "OPTIONS"):
        return
    limit = current_app.config["MAX_FORM_MEMORY_SIZE"]
    if request.content_length is not None and request.content_length > limit:
        abort(413)
