"""The Host a request names: refused before anything is built or signed from it.

Werkzeug builds URLs (``url_for``, redirects) from the Host and the proxy signs it as
``X-Forwarded-Host``; a DNS label over 63 characters makes ``url_for`` raise, so a page, a
product behind the gateway or the gateway's own error page would answer 500. One rule,
:func:`gateway.assertion.valid_host` (the one products apply to what the gateway signs), checked
once for every path before any other hook: 400 for the Console (here) and the built-in proxy,
and the refusal of their own convention for the forward-auth endpoints (nginx's ``auth_request``
takes no 400; both in :mod:`gateway.proxy.wsgi`), which also check the host they are asked about
with the same rule.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from flask import Flask, abort, request

from gateway.assertion import valid_host


def init_app(app: Flask) -> None:
    app.before_request(refuse_bad_host)


def bad_host(environ: Mapping[str, Any]) -> bool:
    """The request names a Host no URL can be built from (no Host at all is HTTP/1.0's right:
    the server's own name is used then)."""
    host = environ.get("HTTP_HOST")
    return host is not None and not usable_host(host)


#: No valid Host is longer (253 characters of name, a port); longer text is never remembered.
_HOST_LENGTH = 300


def usable_host(host: str) -> bool:
    """:func:`gateway.assertion.valid_host`, remembered for the few hosts an edge names again
    and again (its IDNA checks were a tenth of a forward-auth answer's CPU)."""
    return _remembered_valid_host(host) if len(host) <= _HOST_LENGTH else valid_host(host)


_remembered_valid_host = functools.lru_cache(maxsize=1024)(valid_host)


def refuse_bad_host() -> None:
    if bad_host(request.environ):
        abort(400)
