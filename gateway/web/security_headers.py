"""Security headers: the full set on the gateway's own pages, a minimum on proxied ones.

CSP allows no inline script at all; gateway pages use none. Authenticated pages are not cached.
A product's own answer (``g.proxied_response``, set by the proxy) keeps the headers the product
chose; it only gains what protects every page whatever the product does: no framing by another
site (a framed "Delete this account" page is a click away from clickjacking), ``nosniff``, and
``Cache-Control: no-store`` when the product said nothing about caching.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
#: On a proxied page without a CSP of its own: framing only, the product's scripts untouched.
PROXIED_CSP = "frame-ancestors 'none'"


def _add_proxied_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", PROXIED_CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Cache-Control", "no-store")
    return response


def _add_headers(response: Response) -> Response:
    if g.get("proxied_response"):
        return _add_proxied_headers(response)
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.is_secure or current_app.config["SESSION_COOKIE_SECURE"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    app.after_request(_add_headers)
