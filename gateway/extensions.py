"""Flask extensions, created at module level and bound to an app in ``init_app``."""

from __future__ import annotations

from flask import Flask
from flask_wtf.csrf import CSRFProtect

from gateway import switcher, templating
from gateway.sessions import login_manager

csrf = CSRFProtect()


def init_app(app: Flask) -> None:
    csrf.init_app(app)
    login_manager.init_app(app)
    switcher.init_app(app)
    templating.init_app(app)
