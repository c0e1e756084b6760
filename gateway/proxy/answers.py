"""The small answers the proxy and forward-auth write themselves (no page to render): empty
refusals, redirects, and the "sign in first" answer shared by the built-in proxy and the
Traefik/Caddy/Envoy conventions; and what every such answer carries before it is written,
whichever server writes it (:func:`own`, :func:`counted`)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

from werkzeug.utils import redirect
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_path_info

from gateway.web.client import client_ip_of
from gateway.web.observability import record
from gateway.web.security_headers import add_page_headers

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


def vary_on_cookie(response: Response) -> Response:
    """The answer depends on who is signed in: shared caches must not mix people up."""
    vary = response.headers.get("Vary", "")
    if "cookie" not in {part.strip().lower() for part in vary.split(",")}:
        response.headers["Vary"] = f"{vary}, Cookie" if vary.strip() else "Cookie"
    return response


def own(response: Response, environ: Mapping[str, Any], https_cookies: bool) -> Response:
    """An answer of the gateway's own (redirect, empty refusal, 401): the page headers, with
    HSTS when served over HTTPS or with Secure cookies (``https_cookies``)."""
    secure = environ.get("wsgi.url_scheme") == "https" or https_cookies
    add_page_headers(response.headers, secure=secure)
    return response


def counted(response: Response, environ: Mapping[str, Any], area: str, request_id: str,
            started: float) -> Response:
    """``response`` with its request id, counted in ``/metrics`` and logged (one line)."""
    response.headers["X-Request-ID"] = request_id
    record(environ["REQUEST_METHOD"], area, response.status_code,
           time.perf_counter() - started, "/" + get_path_info(environ).lstrip("/"),  # type: ignore[arg-type]
           client_ip_of(environ), request_id)
    return response
