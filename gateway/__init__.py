"""The unified-login gateway: Console identity, settings, and the reverse proxy to products."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

import config
from config import gateway as gateway_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the gateway app: settings, database, extensions, blueprints."""
    settings = config.load(gateway_config.DEFAULTS, gateway_config.ENV_NAMES, test_config)
    config.refuse_demo_secrets(settings, gateway_config.SECRETS)

    app = Flask(
        __name__,
        template_folder=os.path.join(ROOT, "templates"),
        static_folder="static",
    )
    app.config.update(settings)
    app.config.update(
        SESSION_COOKIE_NAME=settings["SESSION_COOKIE_NAME"],
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings["SESSION_COOKIE_SECURE"],
        PERMANENT_SESSION_LIFETIME=timedelta(seconds=settings["SESSION_MAX_AGE"]),
        SESSION_REFRESH_EACH_REQUEST=False,
        MAX_FORM_MEMORY_SIZE=settings["MAX_FORM_MEMORY_SIZE"],
        MAX_FORM_PARTS=100,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        TEMPLATES_AUTO_RELOAD=settings["APP_ENV"] == "development",
    )
    if settings["TRUSTED_PROXY_HOPS"]:
        hops = settings["TRUSTED_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]

    from gateway import db, extensions

    db.init_app(app)
    extensions.init_app(app)
    _register_blueprints(app)
    return app


def _register_blueprints(app: Flask) -> None:
    from gateway import (
        auth,
        cli,
        console,
        email_change,
        email_settings,
        errors,
        health,
        linking,
        mailbox,
        plan,
        proxy,
        settings_views,
        twofactor,
    )

    blueprints = (auth, console, settings_views, email_settings, twofactor, plan, linking, proxy)
    for module in (*blueprints, health, mailbox):
        app.register_blueprint(module.bp)
    errors.init_app(app)
    email_change.init_app(app)
    cli.init_app(app)
