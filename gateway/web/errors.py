"""Error pages: every error is a short readable page (or JSON), never a stack trace.

:class:`ErrorPages` renders them for answers that begin outside Flask's request cycle (the
proxy and forward-auth, :mod:`gateway.proxy.wsgi`): the Console's own handlers and page, so a
refused product path looks and is counted like any other refusal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, PendingRollbackError
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from gateway.web.hosts import bad_host
from gateway.web.negotiation import wants_json
from gateway.web.observability import THROTTLED, begin

log = logging.getLogger("gateway.errors")

MESSAGES = {
    400: "The request could not be understood. Reload the page and try again.",
    401: "Sign in to continue.",
    403: "You do not have access to this page.",
    404: "There is nothing here.",
    405: "That action is not allowed here.",
    413: "That was too large.",
    429: "Too many attempts. Wait a little and try again.",
    431: "The request headers were too large.",
    500: "Something went wrong on our side. Try again in a moment.",
    502: "The product did not answer. Try again in a moment.",
    503: "The service is briefly unavailable. Try again in a moment.",
    504: "The product took too long to answer. Try again in a moment.",
}


def too_many_attempts(page: str, retry_after: int) -> Response:
    """The 429 answer of every throttled form: its own page, with ``Retry-After``."""
    THROTTLED.labels(request.endpoint or "unknown").inc()
    return Response(page, 429, {"Retry-After": str(retry_after)}, mimetype="text/html")


def retry_message(retry_after: int) -> str:
    """What a throttled person reads: how long to wait, in minutes."""
    minutes = max(1, round(retry_after / 60))
    return f"Too many attempts. Try again in about {minutes} minute{'s' * (minutes != 1)}."


def error_response(status: int, message: str | None = None) -> Response:
    message = message or MESSAGES.get(status, "Something went wrong.")
    response: Response
    if wants_json():
        response = jsonify(error=message, status=status)
    else:
        page = f"<!doctype html><title>{status}</title><h1>{status}</h1><p>{message}</p>"
        if not bad_host(request.environ):  # else no link on the page could be built
            try:
                page = render_template("error.html", status=status, message=message)
            except Exception:  # the page itself failed (e.g. the database is gone): plain page
                log.exception("error page failed")
        response = Response(page)
        response.mimetype = "text/html"
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(_error: CSRFError) -> Response:
        return error_response(400, "The form expired or was not sent from this site. "
                              "Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Response:
        status = error.code or 500
        response = error_response(status)
        for header in ("Retry-After", "Allow", "WWW-Authenticate", "Location"):
            original = error.get_response().headers.get(header)
            if original:
                response.headers[header] = original
        return response

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PendingRollbackError)
    def _database_down(error: Exception) -> Response:
        log.error("database unavailable: %s", error.__class__.__name__)
        # Render as for a signed-out visitor: asking the database who is signed in (page
        # header, switcher) would fail again and end in a bare 500 from the server.
        g._login_user = current_app.login_manager.anonymous_user()  # type: ignore[attr-defined]
        g._session_record = None
        response = error_response(503, "The service is briefly unavailable. Try again shortly.")
        response.headers["Retry-After"] = "5"
        return response

    @app.errorhandler(InternalServerError)
    def _internal(error: InternalServerError) -> Response:
        log.error("unhandled error", exc_info=error.original_exception)
        return error_response(500)


class ErrorPages:
    """The Console's error answer for ``error`` (an ``HTTPException``, a refused body, the
    database down, anything else: 500), through the same handlers and after-request hooks
    (request id, access log and metrics, security headers) as a Console page."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(
        self,
        environ: dict[str, Any],
        start_response: Callable[..., Any],
        error: Exception,
        *,
        request_id: str,
        started: float,
        area: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> Iterable[bytes]:
        app = self.app
        with app.request_context(environ):
            begin(request_id, started, area)
            try:
                answer = app.handle_user_exception(error)
            except Exception as unhandled:  # noqa: BLE001 - no handler: the 500 page
                answer = app.handle_exception(unhandled)
            response = app.make_response(answer)
            for name, value in headers:
                response.headers[name] = value
            response = app.process_response(response)
        return response(environ, start_response)
