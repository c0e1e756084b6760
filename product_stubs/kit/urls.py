"""Return paths and the redirect to the gateway's login page."""

from __future__ import annotations

from urllib.parse import unquote, urlencode

from flask import current_app, url_for

MAX_NEXT_LENGTH = 512


def safe_next(value: object) -> str | None:
    """A product-relative path (``/x``), or None for anything that could leave the product.

    Refuses ``//host``, ``/\\host``, absolute URLs, ``javascript:`` and their percent-encoded
    variants, and control characters.
    """
    if not isinstance(value, str) or not value or len(value) > MAX_NEXT_LENGTH:
        return None
    for candidate in (value, unquote(value), unquote(unquote(value))):
        if not candidate.startswith("/") or candidate.startswith(("//", "/\\")):
            return None
        if "\\" in candidate or any(
            ord(ch) < 32 or ord(ch) == 127 or ch.isspace() for ch in candidate
        ):
            return None
        if ":" in candidate.split("?", 1)[0].split("/", 2)[1]:
            return None
    return value


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
