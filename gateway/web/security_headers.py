"""Security headers: the full set on the gateway's own pages, a minimum on proxied ones.

CSP allows no inline script at all; gateway pages use none. Authenticated pages are not cached.
A product's own answer (added by the proxy, :mod:`gateway.proxy.wsgi`, with
:func:`add_proxied_headers`) keeps the headers the product chose; it only gains what protects
every page whatever the product does: no framing by another site (a framed "Delete this
account" page is a click away from clickjacking), ``nosniff``, and ``Cache-Control: no-store``
when the product said nothing about caching. The functions work on any header set, so the
answers given outside Flask's request cycle carry exactly what Console pages carry.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request
from werkzeug.datastructures import Headers

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: On a proxied page without a CSP of its own: framing only, the product's scripts untouched.
PROXIED_CSP = "frame-ancestors 'none'"


def add_proxied_headers(headers: Headers) -> None:
    """What a product's own answer gains (only where the product set nothing)."""
    headers.setdefault("Content-Security-Policy", PROXIED_CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Cache-Control", "no-store")


def add_page_headers(headers: Headers, *, secure: bool, cacheable: bool = False) -> None:
    """The gateway's own answers: ``secure`` when served over HTTPS or with Secure cookies
    (then HSTS); ``cacheable`` only for static files."""
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if secure:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if not cacheable:
        headers.setdefault("Cache-Control", "no-store")


def _add_headers(response: Response) -> Response:
    add_page_headers(
        response.headers,
        secure=request.is_secure or current_app.config["SESSION_COOKIE_SECURE"],
        cacheable=request.endpoint == "static",
    )
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
