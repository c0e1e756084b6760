"""Return paths and the redirect to the gateway's login page."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, url_for

from product_stubs.kit.return_paths import safe_return_path


def safe_next(value: object) -> str | None:
    """A product-relative path (``/x``), or None for anything that could leave the product: the
    gateway's rule (kit/return_paths.py, its vendored copy)."""
    return safe_return_path(value, default="") or None


def login_url(next_path: str | None = None) -> str:
    next_path = safe_next(next_path)
    if next_path and next_path != "/":
        return url_for("auth.login", next=next_path)
    return url_for("auth.login")


def gateway_login_url(email: str, next_path: str | None = None) -> str:
    """Where a linked or Console-created user logs in: the gateway, email pre-filled, and back
    to ``next_path`` (a product path, already checked by :func:`safe_next`) under our prefix."""
    config = current_app.config
    back = config["PUBLIC_PREFIX"] + (safe_next(next_path) or "/")
    query = urlencode({"login_hint": email, "next": back})
    return f"{config['GATEWAY_PUBLIC_URL']}/login?{query}"


def gateway_settings_url() -> str:
    return f"{current_app.config['GATEWAY_PUBLIC_URL']}/settings"
