"""Request-size limits and refused bodies, answered before anything parses a body.

Bodies are received by :mod:`gateway.web.bodies` before the app runs; what it refused (too slow,
malformed, every slot taken) is answered here, first thing, for Console and proxy alike.
"""

from __future__ import annotations

import logging

from flask import Flask, abort, current_app, request
from werkzeug.wrappers import Response

from gateway.web.bodies import BodyError, abandon, received, refusal
from gateway.web.errors import error_response

log = logging.getLogger("gateway.limits")

_MESSAGES = {
    408: "The request took too long to arrive. Try again.",
    503: "Too many uploads are arriving at once. Try again in a moment.",
}
#: Seconds a client refused for the bound on bodies being received is asked to wait.
RETRY_AFTER = 5


def init_app(app: Flask) -> None:
    app.before_request(answer_refused_body)
    app.before_request(refuse_oversized_forms)
    app.register_error_handler(BodyError, body_refused)


def answer_refused_body() -> Response | None:
    """The body this request announced was refused while being received: say why."""
    error = refusal(request.environ)
    return body_refused(error) if error is not None else None


def body_refused(error: BodyError) -> Response:
    """The client's body was refused or could not be read (also halfway through a streamed one):
    the client's error or a busy server, never a 500 and never an upstream error."""
    log.info("body refused %s %s -> %d (%s)", request.method, request.path, error.status, error)
    abandon(request.environ)
    response = error_response(error.status, _MESSAGES.get(error.status))
    response.headers["Cache-Control"] = "no-store"
    if error.status == 503:
        response.headers["Retry-After"] = str(RETRY_AFTER)
    return response


def refuse_oversized_forms() -> None:
    """413 before anything parses an oversized form (the proxy, answering before Flask,
    streams bodies and never meets this).

    The length is the Content-Length, or for a chunked body the length the receiver found
    once it had it whole. A chunked body it had to stream, being larger than
    ``REQUEST_BODY_BUFFER``, is no form either: 413 at once, never read whole. The request's
    ``max_content_length`` keeps Werkzeug within the limit should any body get past.
    """
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    limit = current_app.config["MAX_FORM_MEMORY_SIZE"]
    request.max_content_length = limit
    body = received(request.environ)
    length = request.content_length if request.content_length is not None else body.length
    if body.chunked or (length is not None and length > limit):
        abort(413)
