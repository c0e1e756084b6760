"""Content negotiation: who gets a page, who gets JSON. The one home of that decision."""

from __future__ import annotations

from flask import request


def wants_json() -> bool:
    """JSON only for a client that prefers it and does not take HTML at all (API clients)."""
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes["text/html"] >= 1


def is_browser() -> bool:
    """A client that names ``text/html`` (a browser), not merely ``*/*`` (curl, fetch, SDKs).

    Used where a browser should be redirected to sign in but an API client needs a plain 401.
    """
    return any(value == "text/html" for value, _ in request.accept_mimetypes)
