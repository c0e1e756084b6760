"""Jinja helpers shared by gateway pages."""

from __future__ import annotations

import re

from flask import Flask
from markupsafe import Markup, escape

_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """Escape ``text`` and turn its http(s) URLs into links (developer mailbox)."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))  # noqa: S704


def init_app(app: Flask) -> None:
    app.jinja_env.filters["linkify"] = linkify
