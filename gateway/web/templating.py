"""Jinja helpers shared by gateway pages."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from gateway.web.user_agents import device_name

_URL = re.compile(r"https?://[^\s<>\"']+")


def linkify(text: str) -> Markup:
    """Escape ``text`` and turn its http(s) URLs into links (developer mailbox)."""
    escaped = str(escape(text))
    return Markup(_URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped))  # noqa: S704


def local_time(when: datetime, date_only: bool = False) -> Markup:
    """Every time on every page, in one format: a ``<time>`` whose text app.js rewrites in the
    reader's time zone, and which says "UTC" when no script runs (stored times are naive UTC)."""
    if when.tzinfo is not None:
        when = when.astimezone(UTC).replace(tzinfo=None)
    shown = f"{when.day} {when:%b %Y}" + ("" if date_only else f", {when:%H:%M} UTC")
    kind = "date" if date_only else "time"
    return Markup('<time datetime="{}Z" data-local-time="{}">{}</time>').format(
        when.isoformat(timespec="seconds"), kind, shown
    )


_HIDDEN = {"CSRFTokenField", "HiddenField", "SubmitField"}


def select_invalid(form: Any) -> list[Any]:
    """The visible fields of a WTForms form that have errors, in page order."""
    return [f for f in form if f.type not in _HIDDEN and f.errors]


def first_input(form: Any) -> Any:
    """The first visible field of a form (where a page-level error about it points)."""
    return next((f for f in form if f.type not in _HIDDEN), None)


def init_app(app: Flask) -> None:
    app.jinja_env.filters["linkify"] = linkify
    app.jinja_env.filters["device_name"] = device_name
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.filters["select_invalid"] = select_invalid
    app.jinja_env.filters["first_input"] = first_input
