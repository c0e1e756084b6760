"""Where a person who cannot get in is sent: the operator's support route.

Every page and mail that says "contact support" says where: ``SUPPORT_URL`` (a help page or
form) or ``SUPPORT_EMAIL`` (shown as a mailto link), the URL first when both are set. A
"contact support" with nowhere to go locked passkey-only people out for good (issue 22), so
production refuses to start with neither (:func:`check_configuration`); outside production a
page without one says to ask whoever runs the site, so a demo or a test never links nowhere.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from config import ConfigError

_ADDRESS = re.compile(r"[^@\s<>\"'()\[\],;:\\]+@[^@\s<>\"'()\[\],;:\\]+\.[A-Za-z0-9-]+")
#: What pages and mails say when no route is configured (development, demo, tests).
FALLBACK = "Ask the people who run this site for help."


@dataclass(frozen=True)
class SupportRoute:
    href: str  # https://… or mailto:…
    label: str  # what the link text says: the page's URL or the address

    @property
    def sentence(self) -> str:
        """One line for a mail or a plain-text page."""
        return f"Contact support: {self.label}"


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or not url.isprintable():
        return "SUPPORT_URL must be an http(s) URL with a host"
    if any(c.isspace() or c in "<>\"'" for c in url):
        return "SUPPORT_URL must not contain spaces or quotes"
    return None


def check_configuration(settings: Mapping[str, Any]) -> None:
    """Refuse a route no browser can follow; in production, refuse none at all."""
    url, email = str(settings.get("SUPPORT_URL") or ""), str(settings.get("SUPPORT_EMAIL") or "")
    problem = _url_problem(url) if url else None
    if problem:
        raise ConfigError(problem)
    if email and (len(email) > 254 or not _ADDRESS.fullmatch(email)):
        raise ConfigError("SUPPORT_EMAIL must be one email address, like help@example.com")
    if settings.get("APP_ENV") == "production" and not (url or email):
        raise ConfigError(
            "SUPPORT_URL or SUPPORT_EMAIL must be set in production: people who lose their "
            "second factor are sent there"
        )


def route(config: Mapping[str, Any] | None = None) -> SupportRoute | None:
    config = config if config is not None else current_app.config
    if config.get("SUPPORT_URL"):
        return SupportRoute(str(config["SUPPORT_URL"]), str(config["SUPPORT_URL"]))
    if config.get("SUPPORT_EMAIL"):
        return SupportRoute("mailto:" + str(config["SUPPORT_EMAIL"]), str(config["SUPPORT_EMAIL"]))
    return None


def mail_line() -> str:
    """The sentence a notice ends its "if this was not you" with."""
    found = route()
    return found.sentence if found else FALLBACK


def init_app(app: Flask) -> None:
    @app.context_processor
    def _support() -> dict[str, Any]:
        return {"support_route": route(app.config), "support_fallback": FALLBACK}
