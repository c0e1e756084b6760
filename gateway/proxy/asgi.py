"""The answer server: forward-auth answered by an ASGI server (uvicorn), as a thin adapter.

Every edge request behind nginx or Caddy waits for this answer, so it runs where a request
costs least: an event loop (uvicorn with httptools and uvloop, supervised by gunicorn,
``config/gunicorn_answers.py``). Nothing is decided here: :class:`AnswerServer` builds a
WSGI-style environ from the ASGI scope (:func:`environ_of`: the header bytes as latin-1 text,
exactly as a WSGI server hands them over, so a non-ASCII header is read as it is under
gunicorn), believes ``X-Forwarded-*`` only from the edge (the same
:class:`~gateway.web.client.ForwardedFromPeers`), and asks
:meth:`gateway.proxy.forward_answer.ForwardAuth.answer`, the function the WSGI app asks too.

- **The event loop never waits on the database.** The answer is first made with
  :class:`~gateway.proxy.principal.CachedOnly` (the per-process session cache, no I/O); on a
  miss the same answer is made again in a thread with the real session reader. Error pages
  (rendered by the Console's templates) are made in a thread as well.
- **The peer is the socket's** (``scope["client"]``; uvicorn's own proxy-header rewriting is
  off: ``config/answer_worker.py``). No process environment reaches the environ.
- **A request body is never read**: edges send none (nginx ``proxy_pass_request_body off``,
  Caddy and Traefik a bodiless GET). One that declares a body is answered as usual, with
  ``Connection: close``, so nothing waits for bytes that may never come and none of them is
  read as a next request.
- **Counted, not logged**, as under WSGI: every answer counts in ``/metrics`` (the Console's,
  when both servers share ``PROMETHEUS_MULTIPROC_DIR``), every refusal writes its access-log
  line, an allowed one only with ``FORWARD_AUTH_LOG_ALLOWED``.

Besides the forward-auth paths it answers ``/healthz`` and ``/readyz`` (its database); any
other path is 404. The Console and the built-in proxy stay on gunicorn's threads
(``config/gunicorn_gateway.py``): they stream bodies under deadlines and render pages.
"""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from werkzeug.wrappers import Response

from gateway.proxy import forward_auth
from gateway.proxy.answers import counted, own, plain
from gateway.proxy.forward_answer import Answer, ForwardAuth
from gateway.proxy.principal import CachedOnly, NeedsLookup, SessionChecks
from gateway.proxy.wsgi import PageRenderer
from gateway.web.client import ForwardedFromPeers
from gateway.web.observability import request_id

log = logging.getLogger("gateway.proxy")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
#: () -> (what was checked, ready): run in a thread.
Readiness = Callable[[], tuple[dict[str, str], bool]]


def environ_of(scope: Scope) -> dict[str, Any]:
    """The WSGI environ a server like gunicorn would build for this request, from the ASGI
    scope's bytes: header values and the request target as latin-1 text (PEP 3333), duplicate
    headers joined with a comma, names with an underscore dropped (gunicorn's default: an
    ``X_Original_URL`` is never read as ``X-Original-URL``). Only the request's own values:
    no process environment."""
    raw_path: bytes = scope.get("raw_path") or scope["path"].encode("utf-8")
    path, _, _ = raw_path.partition(b"?")
    query: bytes = scope.get("query_string", b"")
    server = scope.get("server") or ("localhost", 80)
    client = scope.get("client")
    raw_uri = path + (b"?" + query if query else b"")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query.decode("latin-1"),
        "RAW_URI": raw_uri.decode("latin-1"),
        "REQUEST_URI": raw_uri.decode("latin-1"),
        "SERVER_NAME": str(server[0]),
        "SERVER_PORT": str(server[1] or 80),
        "SERVER_PROTOCOL": "HTTP/" + scope.get("http_version", "1.1"),
        "REMOTE_ADDR": client[0] if client else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in scope["headers"]:
        key = _environ_key(name)
        if key is None:
            continue
        text = value.decode("latin-1")
        environ[key] = environ[key] + "," + text if key in environ else text
    return environ


@functools.lru_cache(maxsize=512)
def _environ_key(name: bytes) -> str | None:
    """``x-original-url`` -> ``HTTP_X_ORIGINAL_URL``; None for a name with an underscore. The
    edge sends the same few names every time: remembered."""
    if b"_" in name:
        return None
    key = name.decode("latin-1").upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else "HTTP_" + key


def declares_body(environ: MutableMapping[str, Any]) -> bool:
    length = environ.get("CONTENT_LENGTH", "").strip()
    return bool(environ.get("HTTP_TRANSFER_ENCODING")) or (length not in ("", "0"))


def _same_environ(environ: dict[str, Any], _start_response: Any) -> dict[str, Any]:
    return environ


class AnswerServer:
    """ASGI: the forward-auth paths (and ``/healthz``, ``/readyz``) of one gateway process."""

    def __init__(self, forward: ForwardAuth, sessions: SessionChecks, pages: PageRenderer,
                 *, hops: int, ready: Readiness) -> None:
        self.forward = forward
        self.inline = CachedOnly(sessions)
        self.pages = pages
        self.ready = ready
        #: ProxyFix for the edge's requests only, as in front of the WSGI app.
        self.believe = (ForwardedFromPeers(_same_environ, hops, forward.settings.edges)
                        if hops else None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":  # a websocket: nothing to say
            return
        started = time.perf_counter()
        environ = environ_of(scope)
        close = declares_body(environ)
        if close:  # never read (see the module's docstring)
            environ["CONTENT_LENGTH"] = "0"
            environ.pop("HTTP_TRANSFER_ENCODING", None)
        if self.believe is not None:
            self.believe(environ, None)
        rid = request_id(environ.get("HTTP_X_REQUEST_ID"))
        path = "/" + environ["PATH_INFO"].lstrip("/")
        convention = forward_auth.convention_for(path)
        try:
            if convention is None:
                await self._other(environ, path, rid, started, send, close)
                return
            try:
                answer = self.forward.answer(environ, convention, self.inline)
            except NeedsLookup:
                answer = await asyncio.to_thread(self.forward.answer, environ, convention)
            await self._write(environ, answer, rid, started, send, close)
        except Exception:  # noqa: BLE001 - a bug: a 500 with its request id, never a trace
            log.exception("forward-auth answer failed (request %s)", rid)
            await _send(send, 500, [("X-Request-ID", rid), ("Content-Length", "0"),
                                    ("Cache-Control", "no-store")], b"", True)

    async def _write(self, environ: dict[str, Any], answer: Answer, rid: str, started: float,
                     send: Send, close: bool) -> None:
        if answer.allowed is not None:
            headers = self.forward.allowed(environ, answer.allowed, rid, started)
            await _send(send, 200, headers, b"", close)
        elif answer.response is not None:
            response = own(answer.response, environ, self.forward.settings.https_cookies)
            await self._response(environ, response, rid, started, send, close)
        else:
            assert answer.error is not None
            status, headers, body = await asyncio.to_thread(
                self._page, environ, answer.error, rid, started)
            await _send(send, status, headers, body, close)

    async def _other(self, environ: dict[str, Any], path: str, rid: str, started: float,
                     send: Send, close: bool) -> None:
        if path == "/healthz":
            response = Response(json.dumps({"status": "ok"}) + "\n", mimetype="application/json")
        elif path == "/readyz":
            checks, ready = await asyncio.to_thread(self.ready)
            body = {"status": "ready" if ready else "not ready", "checks": checks}
            response = Response(json.dumps(body) + "\n", status=200 if ready else 503,
                                mimetype="application/json")
            response.headers["Cache-Control"] = "no-store"
        else:  # the Console's paths are the other server's
            response = plain(404)
        response = own(response, environ, self.forward.settings.https_cookies)
        await self._response(environ, response, rid, started, send, close, area="answers")

    async def _response(self, environ: dict[str, Any], response: Response, rid: str,
                        started: float, send: Send, close: bool,
                        area: str = "forward_auth") -> None:
        counted(response, environ, area, rid, started)
        body_iter, status, headers = response.get_wsgi_response(environ)
        await _send(send, int(status.split(None, 1)[0]), headers, b"".join(body_iter), close)

    def _page(self, environ: dict[str, Any], error: Exception, rid: str,
              started: float) -> tuple[int, list[tuple[str, str]], bytes]:
        """The Console's error page for ``error`` (in a thread: templates, an app context)."""
        head: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], *_: Any) -> None:
            head[:] = [int(status.split(None, 1)[0]), headers]

        chunks = self.pages(environ, start_response, error, request_id=rid, started=started,
                            area="forward_auth")
        try:
            body = b"".join(chunks)
        finally:
            closing = getattr(chunks, "close", None)
            if closing is not None:
                closing()
        return head[0], head[1], body


async def _send(send: Send, status: int, headers: Iterable[tuple[str, str]], body: bytes,
                close: bool) -> None:
    raw = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    if close:
        raw.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send) -> None:
    """Nothing to start or stop: the app is built before the server starts."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
