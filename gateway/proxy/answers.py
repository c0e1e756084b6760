"""The small answers the proxy and forward-auth write themselves (no page to render): empty
refusals, redirects, and the "sign in first" answer shared by the built-in proxy and the
Traefik/Caddy/Envoy conventions."""

from __future__ import annotations

import json

from werkzeug.utils import redirect
from werkzeug.wrappers import Response

#: What an API client that is not signed in reads (the same bytes Flask's ``jsonify`` wrote).
_NOT_SIGNED_IN = json.dumps({"error": "not_authenticated", "login": "/login"},
                            separators=(",", ":")) + "\n"


def plain(status: int, location: str | None = None) -> Response:
    """An empty answer, never cached; ``location`` for the edge to redirect to."""
    response = Response(status=status)
    response.headers["Cache-Control"] = "no-store"
    if location:
        response.headers["Location"] = location
    return response


def not_signed_in(login: str, browser: bool) -> Response:
    """A ``browser`` is sent to ``login``; an API client gets a 401 naming the sign-in page."""
    if browser:
        return redirect(login, 302)
    return Response(_NOT_SIGNED_IN, status=401, mimetype="application/json")
