"""The allowed forward-auth answer, given without Flask's request cycle.

An edge asks ``/auth/nginx`` or ``/auth/forward`` before every request it forwards to a
product, so that answer is on the path of every product page. Through Flask it cost about
0.4 ms of CPU, most of it the request cycle (request and response objects, the hooks every
Console page needs: CSRF, security headers, login manager) rather than the decision. This WSGI
middleware answers the common case, an allowed request from the configured edge, with the same
pieces the Flask endpoints use (:func:`~gateway.proxy.forward_auth.from_the_edge`,
:func:`~gateway.proxy.forward_auth.read_nginx` / ``read_forward``,
:func:`~gateway.proxy.decision.decide`, :func:`~gateway.proxy.forward_auth.allowed_headers`),
and the same metrics (the access-log line only with ``FORWARD_AUTH_LOG_ALLOWED``: the edge
logs each request already). Everything else (a refusal, a sign-in, a caller that
is not the edge, Envoy's convention, an unreadable request, and any error on the way, such as
the database being down) goes on to Flask unchanged, so there is one behaviour for each case
and this module only makes the busiest one cheap.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask
from werkzeug.datastructures import EnvironHeaders, Headers
from werkzeug.exceptions import SecurityError
from werkzeug.wsgi import get_host

from gateway.proxy.decision import Verdict, decide
from gateway.proxy.forward_auth import (
    Asked,
    allowed_headers,
    from_the_edge,
    read_forward,
    read_nginx,
)
from gateway.web.bodies import refusal
from gateway.web.client import client_ip_of
from gateway.web.hosts import bad_host
from gateway.web.observability import record, request_id

log = logging.getLogger("gateway.proxy")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Reader = Callable[[Headers, dict[str, Any], str], Asked]
#: path -> how to read the edge's question (headers, environ, the request's own host).
_READERS: dict[str, Reader] = {
    "/auth/nginx": lambda headers, environ, host: read_nginx(
        headers, environ["wsgi.url_scheme"], host
    ),
    "/auth/forward": lambda headers, environ, host: read_forward(headers, host),
}
#: Errors on the lean path are logged at most this often per process (Flask answers each).
_LOG_EVERY = 60.0


class LeanForwardAuth:
    """WSGI middleware in front of the gateway's Flask app (inside ``ProxyFix``)."""

    def __init__(self, app: Flask, wsgi_app: WSGIApp) -> None:
        self.app = app
        self.wsgi_app = wsgi_app
        self._last_error_logged = float("-inf")

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        read = _READERS.get(environ.get("PATH_INFO", ""))
        if (
            read is None
            or environ.get("REQUEST_METHOD") not in ("GET", "HEAD")
            or refusal(environ) is not None  # Flask answers a refused body
        ):
            return self.wsgi_app(environ, start_response)
        started = time.perf_counter()
        headers = EnvironHeaders(environ)
        client = client_ip_of(environ)  # for the forwarded headers and the metrics line
        try:
            with self.app.app_context():
                answer = self._allowed(environ, headers, read, client)
        except Exception:  # noqa: BLE001 - the database down, say: Flask's handlers answer it
            self._log_error()
            answer = None
        if answer is None:
            return self.wsgi_app(environ, start_response)
        rid = request_id(headers.get("X-Request-ID"))
        answer += [("X-Request-ID", rid), ("Content-Length", "0")]
        start_response("200 OK", answer)
        record(environ["REQUEST_METHOD"], "forward_auth", 200, time.perf_counter() - started,
               environ["PATH_INFO"], client, rid,
               log=self.app.config["FORWARD_AUTH_LOG_ALLOWED"])
        return []

    def _allowed(
        self, environ: dict[str, Any], headers: Headers, read: Reader, client: str
    ) -> list[tuple[str, str]] | None:
        """The 200's headers, or None for any answer that is not "allowed"."""
        if not from_the_edge(environ, self.app) or bad_host(environ):
            return None
        try:
            host = get_host(environ, self.app.config.get("TRUSTED_HOSTS"))
            asked = read(headers, environ, host)
        except (ValueError, SecurityError):  # unreadable, or a Host Flask would refuse too
            return None
        cookie = environ.get("HTTP_COOKIE", "")
        token = self.app.session_interface.token(self.app, cookie)  # type: ignore[attr-defined]
        decision = decide(asked.raw_path, asked.query, token)
        if decision.verdict is not Verdict.ALLOW:
            return None
        return allowed_headers(decision, asked, client, cookie)

    def _log_error(self) -> None:
        """A lasting fault here would quietly send every answer the slow way: say so."""
        now = time.monotonic()
        if now - self._last_error_logged >= _LOG_EVERY:
            self._last_error_logged = now
            log.exception("lean forward-auth answer failed; Flask answers instead")
