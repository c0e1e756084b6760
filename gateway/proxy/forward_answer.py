"""The forward-auth answer, one function for every server that carries it.

:meth:`ForwardAuth.answer` reads an edge's question from a WSGI-style environ (the WSGI app
passes its own; the answer server, :mod:`gateway.proxy.asgi`, builds one from the ASGI scope
with the same header bytes), runs every check in order (Host, refused body, the caller in
``FORWARD_AUTH_ALLOW``, method, the question itself), asks
:func:`gateway.proxy.decision.decide` once and returns an :class:`Answer`: the allowed 200's
headers, the gateway's own small answer, or an error for the Console's error page. The server
only writes it. So no check exists twice: a request is decided by this code whichever server
received it.

The session reader is a parameter: the answer server first asks with one that only reads the
per-process cache (:class:`gateway.proxy.principal.CachedOnly`, which raises
:class:`~gateway.proxy.principal.NeedsLookup` on a miss, before anything is answered) and asks
again in a thread with the real one, so a database read never blocks its event loop.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import DBAPIError, PendingRollbackError
from werkzeug.exceptions import BadRequest, Forbidden, MethodNotAllowed, SecurityError
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_host

from gateway.products.table import ProductTable
from gateway.proxy import forward_auth
from gateway.proxy.answers import plain, vary_on_cookie
from gateway.proxy.decision import Question, SessionReader, Verdict, decide
from gateway.proxy.settings import ProxySettings
from gateway.proxy.signing import Signer
from gateway.web.bodies import refusal
from gateway.web.client import client_ip_of, peer_in
from gateway.web.hosts import bad_host
from gateway.web.negotiation import is_browser
from gateway.web.observability import record

#: The errors that mean "the database is away": the Console's 503 page.
DATABASE_DOWN = (DBAPIError, PendingRollbackError)


@dataclass(frozen=True, slots=True)
class Answer:
    """Exactly one of: ``allowed`` (the 200's headers), ``response`` (the gateway's own small
    answer, page headers still to add: :func:`gateway.proxy.answers.own`), ``error`` (the
    Console's error page for it)."""

    allowed: list[tuple[str, str]] | None = None
    response: Response | None = None
    error: Exception | None = None


class ForwardAuth:
    """The forward-auth answer with its dependencies (built once per process)."""

    def __init__(self, *, sessions: SessionReader, table: ProductTable, signer: Signer,
                 settings: ProxySettings) -> None:
        self.sessions = sessions
        self.table = table
        self.signer = signer
        self.settings = settings

    def answer(self, environ: Mapping[str, Any], convention: forward_auth.Convention,
               sessions: SessionReader | None = None) -> Answer:
        """The answer to the edge's question in ``environ`` (``sessions``: default the real
        reader)."""
        if bad_host(environ):
            status = forward_auth.BAD_HOST_REFUSALS.get(environ.get("PATH_INFO", ""), 400)
            return Answer(error=BadRequest() if status == 400 else Forbidden())
        refused = refusal(environ)
        if refused is not None:
            return Answer(error=refused)
        settings = self.settings
        if not peer_in(environ, settings.edges):
            return Answer(response=plain(403))  # before any header is read
        if environ.get("REQUEST_METHOD") not in convention.methods:
            return Answer(error=MethodNotAllowed(sorted(convention.methods)))
        try:
            host = get_host(environ, settings.trusted_hosts)  # type: ignore[arg-type]
        except SecurityError:
            return Answer(error=BadRequest())
        try:
            asked = convention.read(environ, host)
        except ValueError:  # Unreadable, or urlsplit's own refusal (a broken IPv6 host)
            return Answer(response=plain(convention.unreadable))
        cookie = environ.get("HTTP_COOKIE", "")
        try:
            decision = decide(Question(asked.raw_path, asked.query, cookie),
                              sessions or self.sessions, self.table)
        except DATABASE_DOWN as exc:
            return Answer(error=exc)
        if decision.verdict is Verdict.ALLOW:
            headers = forward_auth.allowed_headers(
                decision, asked, client_ip_of(environ), cookie, self.signer,
                settings.own_cookies)
            if headers is not None:
                return Answer(allowed=headers)
        response = convention.refuse(decision, is_browser(environ.get("HTTP_ACCEPT", "")))
        return Answer(response=vary_on_cookie(response))

    def allowed(self, environ: Mapping[str, Any], headers: list[tuple[str, str]],
                request_id: str, started: float) -> list[tuple[str, str]]:
        """The busiest answer of all (one per product request behind an edge): no page, no
        security headers (the edge copies named headers only), counted in ``/metrics`` and
        logged only when asked (``FORWARD_AUTH_LOG_ALLOWED``). Returns the headers to send."""
        headers += [("X-Request-ID", request_id), ("Content-Length", "0")]
        record(environ["REQUEST_METHOD"], "forward_auth", 200, time.perf_counter() - started,
               environ.get("PATH_INFO", ""), client_ip_of(environ), request_id,
               log=self.settings.log_allowed)
        return headers
