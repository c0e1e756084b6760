"""Where a person who cannot get in is sent: the operator's support route.

Every page and mail that says "contact support" says where: ``SUPPORT_URL`` (a help page or
form) or ``SUPPORT_EMAIL`` (shown as a mailto link), the URL first when both are set. A
"contact support" with nowhere to go locked passkey-only people out for good (issue 22), so
production refuses to start with neither (the ``SUPPORT_*`` checks in ``config.gateway``, run by
``load_settings`` with the other settings checks); outside production a
page without one says to ask whoever runs the site, so a demo or a test never links nowhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app

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


def route(config: Mapping[str, Any] | None = None) -> SupportRoute | None:
    config = config if config is not None else current_app.config
    if config.get("SUPPORT_URL"):
        return SupportRoute(str(config["SUPPORT_URL"]), str(config["SUPPORT_URL"]))
    if config.get("SUPPORT_EMAIL"):
        return SupportRoute("mailto:" + str(config["SUPPORT_EMAIL"]), str(config["SUPPORT_EMAIL"]))
    return None


def mail_line() -> str:
    """The sentence a notice ends its "if this was not you" with."""
    return sentence()


def sentence() -> str:
    """The support route as one sentence for a page (the fallback when none is set)."""
    found = route()
    return found.sentence if found else FALLBACK


def init_app(app: Flask) -> None:
    @app.context_processor
    def _support() -> dict[str, Any]:
        return {"support_route": route(app.config), "support_fallback": FALLBACK}
