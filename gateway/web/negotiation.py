"""Content negotiation: who gets a page, who gets JSON. The one home of that decision.

Each rule reads an ``Accept`` header value, so the proxy (which answers outside Flask's
request cycle) and the Console's views ask the same question.
"""

from __future__ import annotations

from flask import request
from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header


def wants_json(accept: str | None = None) -> bool:
    """JSON only for a client that prefers it and does not take HTML at all (API clients).
    ``accept``: the header's value (default: the current request's)."""
    mimetypes = _mimetypes(accept)
    best = mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not mimetypes["text/html"] >= 1


def is_browser(accept: str | None = None) -> bool:
    """A client that names ``text/html`` (a browser), not merely ``*/*`` (curl, fetch, SDKs).

    Used where a browser should be redirected to sign in but an API client needs a plain 401.
    """
    return any(value == "text/html" for value, _ in _mimetypes(accept))


def _mimetypes(accept: str | None) -> MIMEAccept:
    if accept is None:
        return request.accept_mimetypes
    return parse_accept_header(accept, MIMEAccept)
