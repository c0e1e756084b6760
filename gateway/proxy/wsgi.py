"""The proxy and forward-auth as one WSGI app, dispatched in front of the Console's Flask app.

It answers the paths under a product prefix (the built-in proxy,
:mod:`gateway.proxy.forwarding`) and the forward-auth paths (:mod:`gateway.proxy.forward_auth`)
itself, and hands every other request to the Console unchanged. Forward-auth is answered here
for a single server (``python app.py`` without an edge, the Flask test client); deployed edges
ask the answer server (:mod:`gateway.proxy.asgi`), and both write what
:mod:`gateway.proxy.forward_answer` decided: one function, two servers. Each answer reads its
question from the WSGI environ, asks :func:`gateway.proxy.decision.decide` once, with the
dependencies the factory built (session reader, product table, signer, settings), and writes
its answer with what every answer of the gateway carries: a request id, an access-log line and
metrics, and security headers (the minimum on a product's own answer, the full set on the
gateway's). Refusals that show a page (400, 404, 405, 502, 504, a refused body, the database
down) are rendered by the Console's own error pages (``pages``), so they look and count the
same as any.

Routing sees the path *after* normalisation: ``/SEGMENT/x``, ``//segment/./x`` or
``/%73egment/x`` are routed (or refused) like ``/segment/x``, and nothing that normalises into an
internal product path gets through. A method that is not a token is refused here for every path
(the development server passes any bytes; urllib3 would raise on them).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from werkzeug.exceptions import (
    BadGateway,
    BadRequest,
    GatewayTimeout,
    NotFound,
    SecurityError,
)
from werkzeug.utils import redirect
from werkzeug.wrappers import Response
from werkzeug.wsgi import get_host, get_path_info

from gateway.products.table import ProductTable
from gateway.proxy import forward_auth
from gateway.proxy.answers import counted, not_signed_in, own, vary_on_cookie
from gateway.proxy.decision import Decision, Question, SessionReader, Verdict, decide
from gateway.proxy.forward_answer import DATABASE_DOWN, ForwardAuth
from gateway.proxy.forwarding import UpstreamFailed, forward
from gateway.proxy.settings import ProxySettings
from gateway.proxy.signing import Signer
from gateway.web.bodies import BodyError, refusal
from gateway.web.client import client_ip_of
from gateway.web.hosts import bad_host
from gateway.web.negotiation import is_browser
from gateway.web.observability import request_id
from gateway.web.request_line import METHOD
from gateway.web.security_headers import add_proxied_headers

log = logging.getLogger("gateway.proxy")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class PageRenderer(Protocol):
    """Renders the gateway's error answer for ``error`` (``gateway.web.errors.ErrorPages``)."""

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any], error: Exception, *,
        request_id: str, started: float, area: str, headers: Iterable[tuple[str, str]] = (),
    ) -> Iterable[bytes]: ...


class _Call:
    """One request's bookkeeping: its id, start time, metrics area and how to answer."""

    __slots__ = ("environ", "start_response", "area", "rid", "started")

    def __init__(self, environ: dict[str, Any], start_response: Callable[..., Any],
                 area: str) -> None:
        self.environ = environ
        self.start_response = start_response
        self.area = area
        self.started = time.perf_counter()
        self.rid = request_id(environ.get("HTTP_X_REQUEST_ID"))


class ProxyApp:
    """WSGI: the product prefixes and forward-auth paths answered here, the rest by ``console``."""

    def __init__(
        self,
        console: WSGIApp,
        *,
        sessions: SessionReader,
        table: ProductTable,
        signer: Signer,
        settings: ProxySettings,
        pages: PageRenderer,
    ) -> None:
        self.console = console
        self.sessions = sessions
        self.table = table
        self.signer = signer
        self.settings = settings
        self.pages = pages
        self.forward_auth = ForwardAuth(sessions=sessions, table=table, signer=signer,
                                        settings=settings)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        path = "/" + get_path_info(environ).lstrip("/")  # as Flask's request.path reads it
        convention = forward_auth.convention_for(path)
        if convention is not None:
            return self._ask(_Call(environ, start_response, "forward_auth"), convention)
        if not METHOD.fullmatch(environ.get("REQUEST_METHOD", "")):
            return self._page(_Call(environ, start_response, "proxy"), BadRequest())
        question = Question(path, environ.get("QUERY_STRING", ""), environ.get("HTTP_COOKIE", ""))
        call = _Call(environ, start_response, "proxy")
        try:
            decision = decide(question, self.sessions, self.table)
        except DATABASE_DOWN as exc:
            return self._page(call, exc)
        if decision.verdict is Verdict.NOT_PRODUCT:
            return self.console(environ, start_response)
        return self._proxy(call, decision)

    # --- the built-in proxy ----------------------------------------------------------------

    def _proxy(self, call: _Call, decision: Decision) -> Iterable[bytes]:
        environ = call.environ
        if bad_host(environ):
            return self._page(call, BadRequest())
        refused = refusal(environ)
        if refused is not None:
            return self._page(call, refused)
        verdict = decision.verdict
        if verdict is Verdict.BAD_PATH:
            return self._page(call, BadRequest())
        if verdict is Verdict.REFUSED:
            return self._page(call, NotFound())
        if verdict is Verdict.CANONICAL:
            return self._own(call, vary_on_cookie(redirect(decision.location, 308)))
        if verdict is Verdict.SIGN_IN or verdict is Verdict.ENROL:
            browser = is_browser(environ.get("HTTP_ACCEPT", ""))
            return self._own(call, vary_on_cookie(not_signed_in(decision.location, browser)))
        if verdict is Verdict.LINK:
            return self._own(call, vary_on_cookie(redirect(decision.location, 302)))
        assert decision.product is not None
        try:
            host = get_host(environ, self.settings.trusted_hosts)
            response = forward(
                environ, product=decision.product, path=decision.path,
                principal=decision.principal, request_id=call.rid,
                client=client_ip_of(environ), host=host, signer=self.signer,
                own_cookies=self.settings.own_cookies, timeout=self.settings.upstream_timeout,
            )
        except SecurityError:  # a Host outside TRUSTED_HOSTS
            return self._page(call, BadRequest())
        except BodyError as exc:  # a streamed body failed on the client's side
            return self._page(call, exc)
        except UpstreamFailed as exc:
            error = GatewayTimeout() if exc.status == 504 else BadGateway()
            return self._page(call, error, [("Cache-Control", "no-store")])
        add_proxied_headers(response.headers)
        return self._send(call, vary_on_cookie(response))

    # --- forward-auth ----------------------------------------------------------------------

    def _ask(self, call: _Call, convention: forward_auth.Convention) -> Iterable[bytes]:
        """The one forward-auth answer (:mod:`gateway.proxy.forward_answer`), written as WSGI."""
        answer = self.forward_auth.answer(call.environ, convention)
        if answer.allowed is not None:
            headers = self.forward_auth.allowed(call.environ, answer.allowed, call.rid,
                                                call.started)
            call.start_response("200 OK", headers)
            return []
        if answer.response is not None:
            return self._own(call, answer.response)
        assert answer.error is not None
        return self._page(call, answer.error)

    # --- writing answers -------------------------------------------------------------------

    def _own(self, call: _Call, response: Response) -> Iterable[bytes]:
        """An answer of the gateway's own (redirect, empty refusal, 401): the page headers."""
        return self._send(call, own(response, call.environ, self.settings.https_cookies))

    def _send(self, call: _Call, response: Response) -> Iterable[bytes]:
        counted(response, call.environ, call.area, call.rid, call.started)
        return response(call.environ, call.start_response)

    def _page(self, call: _Call, error: Exception,
              headers: Iterable[tuple[str, str]] = ()) -> Iterable[bytes]:
        return self.pages(call.environ, call.start_response, error, request_id=call.rid,
                          started=call.started, area=call.area, headers=headers)

