"""Every request body, Console form and proxied upload alike, received under one deadline and one
per-process bound before anything in the app reads it.

A client that announces a body and sends it slowly, or never, must not hold a worker thread for
as long as it likes (CWE-400): Werkzeug reads a Console form with no deadline of its own, and a
thread blocked there is lost to every other request. So :class:`ReceiveBodies`, the outermost
WSGI layer of the gateway, receives each body first:

- at most ``REQUEST_BODY_CONCURRENCY`` bodies per process are being received at once; one more
  is refused at once with 503 and ``Retry-After``, never a thread waiting in line. 503, not 413:
  the server is busy, the body is not too large. Bodies being received thus hold at most
  concurrency x ``REQUEST_BODY_BUFFER`` bytes of a process's memory, and a flood of stalled
  uploads can take only that many threads, never the whole pool;
- a body of up to ``REQUEST_BODY_BUFFER`` bytes (by Content-Length, or chunked and ending
  within it) is read whole within ``REQUEST_BODY_TIMEOUT`` in total; the app then reads it from
  memory. A stall is a 408 after at most that long, and the thread is free again;
- a larger body is streamed to whoever reads it (the proxy, to the product), each read within
  ``REQUEST_BODY_TIMEOUT``, holding its slot until the answer is closed;
- a body that cannot be read (a malformed chunk, a client gone, shorter than its
  Content-Length) is the client's error: 400.

A refused body is not answered here: the refusal is left in the environ (:func:`refusal`), the
body replaced by an empty one, and the app answers it first thing (``gateway.web.limits``) with
its request id, headers and access-log line. Reads set the timeout on the server's socket,
taken from the environ (``gunicorn.socket``, ``werkzeug.socket``); without one (the Flask test
client) nothing can stall.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.wsgi import ClosingIterator, get_content_length

CHUNK = 64 * 1024
_REFUSAL = "gateway.body.refusal"
_RECEIVED = "gateway.body"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BodyError(Exception):
    """The client's body was refused: ``status`` 400 (malformed, cut), 408 (too slow) or 503
    (every slot for receiving a body taken)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


def client_socket(environ: Mapping[str, Any]) -> socket.socket | None:
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    return sock if isinstance(sock, socket.socket) else None


def abandon(environ: Mapping[str, Any]) -> None:
    """The body stays unread: stop reading from the client so the server closes the
    connection after the answer instead of draining what is left."""
    sock = client_socket(environ)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass


def _timed_out(exc: BaseException | None) -> bool:
    """A socket timeout, also when a stream re-raised it (Werkzeug: ``ClientDisconnected``)."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, TimeoutError):  # socket.timeout
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False


class _Reader:
    """Reads the server's ``wsgi.input`` under the socket timeout (and ``deadline`` when set),
    never past the Content-Length (``remaining``; None when chunked)."""

    def __init__(self, environ: Mapping[str, Any], timeout: float, length: int | None) -> None:
        self.stream = environ["wsgi.input"]
        self.timeout = timeout
        self.deadline: float | None = None
        self.remaining = length
        self.ended = False
        self.sock = client_socket(environ)
        self._saved = self.sock.gettimeout() if self.sock is not None else None

    def read(self, size: int) -> bytes:
        if self.remaining is not None:
            size = min(size, self.remaining)
        if self.ended or size <= 0:
            self.ended = True
            return b""
        wait = self.timeout
        if self.deadline is not None:
            wait = min(wait, self.deadline - time.monotonic())
            if wait <= 0:
                raise BodyError(408, "body deadline")
        if self.sock is not None:
            self.sock.settimeout(wait)
        try:
            data: bytes = self.stream.read(size)
        except Exception as exc:  # the server's parser or stream: the client sent nonsense
            if _timed_out(exc):
                raise BodyError(408, "body read timeout") from exc
            raise BodyError(400, exc.__class__.__name__) from exc
        if not data:
            self.ended = True
            if self.remaining:
                raise BodyError(400, "body shorter than its Content-Length")
        elif self.remaining is not None:
            self.remaining -= len(data)
        return data

    def restore(self) -> None:
        if self.sock is not None:
            try:
                self.sock.settimeout(self._saved)
            except OSError:
                pass


class _Streamed(io.RawIOBase):
    """A body too large to buffer, read on demand: what was read while deciding, then the rest
    from the client, each read under the reader's timeout."""

    def __init__(self, head: bytes, reader: _Reader) -> None:
        super().__init__()
        self._head = head
        self.reader = reader

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            data, self._head = self._head[: len(view)], self._head[len(view):]
        else:
            data = self.reader.read(min(len(view), CHUNK))
        view[: len(data)] = data
        return len(data)


class Received:
    """A received body: ``payload`` (bytes, a stream, or None), its ``length`` (None when
    chunked and streamed) and whether it is ``chunked``. ``close`` frees the slot a streamed
    body holds, gives the socket its own timeout back, and abandons what was left unread."""

    def __init__(
        self,
        payload: bytes | _Streamed | None,
        length: int | None,
        release: Callable[[], None] | None = None,
        environ: Mapping[str, Any] | None = None,
    ) -> None:
        self.payload = payload
        self.length = length
        self.chunked = isinstance(payload, _Streamed) and length is None
        self._release = release
        self._environ = environ

    def close(self) -> None:
        if self._release is None:
            return
        self._release()
        self._release = None
        if isinstance(self.payload, _Streamed):
            self.payload.reader.restore()
            if not self.payload.reader.ended and self._environ is not None:
                abandon(self._environ)


NO_BODY = Received(None, None)


class Receiver:
    """Per process: receives request bodies, at most ``concurrency`` at a time."""

    def __init__(self, timeout: float, buffer: int, concurrency: int) -> None:
        self.timeout = timeout
        self.buffer = buffer
        self._slots = threading.BoundedSemaphore(concurrency)

    @classmethod
    def from_settings(cls, config: Mapping[str, Any]) -> Receiver:
        return cls(
            timeout=float(config["REQUEST_BODY_TIMEOUT"]),
            buffer=int(config["REQUEST_BODY_BUFFER"]),
            concurrency=int(config["REQUEST_BODY_CONCURRENCY"]),
        )

    def receive(self, environ: dict[str, Any]) -> Received:
        """A small body read whole now; a large one streamed later, holding its slot until
        ``close``. Raises :class:`BodyError` (the body left unread)."""
        length = get_content_length(environ)  # None when chunked
        # gunicorn marks every input terminated, a GET's too: chunked needs the header as well.
        chunked = not length and bool(
            environ.get("HTTP_TRANSFER_ENCODING") and environ.get("wsgi.input_terminated")
        )
        if not length and not chunked:
            return NO_BODY
        if not self._slots.acquire(blocking=False):
            raise BodyError(503, "request bodies at their bound")
        reader = _Reader(environ, self.timeout, length)
        try:
            if length and length > self.buffer:
                return Received(_Streamed(b"", reader), length, self._slots.release, environ)
            data = self._buffer(reader, length or self.buffer + 1)
            if chunked and len(data) > self.buffer:
                return Received(_Streamed(data, reader), None, self._slots.release, environ)
        except BaseException:
            self._slots.release()
            reader.restore()
            raise
        self._slots.release()
        reader.restore()
        return Received(data, len(data))

    def _buffer(self, reader: _Reader, limit: int) -> bytes:
        reader.deadline = time.monotonic() + self.timeout
        parts: list[bytes] = []
        size = 0
        while size < limit and (piece := reader.read(min(CHUNK, limit - size))):
            parts.append(piece)
            size += len(piece)
        reader.deadline = None
        return b"".join(parts)


class ReceiveBodies:
    """WSGI middleware: the body of every request received by ``receiver`` before ``app``
    sees it (what the app reads is then memory, or a stream with the same timeouts)."""

    def __init__(self, app: WSGIApp, receiver: Receiver) -> None:
        self.app = app
        self.receiver = receiver

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        try:
            body = self.receiver.receive(environ)
        except BodyError as exc:
            abandon(environ)
            environ[_REFUSAL] = exc
            environ["wsgi.input"] = io.BytesIO()
            environ["CONTENT_LENGTH"] = "0"
            body = NO_BODY
        if isinstance(body.payload, bytes):
            environ["wsgi.input"] = io.BytesIO(body.payload)
        elif isinstance(body.payload, _Streamed):
            environ["wsgi.input"] = body.payload
        environ[_RECEIVED] = body
        if body is NO_BODY or isinstance(body.payload, bytes):
            return self.app(environ, start_response)
        try:
            answer = self.app(environ, start_response)
        except BaseException:
            body.close()
            raise
        return ClosingIterator(answer, body.close)


def received(environ: Mapping[str, Any]) -> Received:
    """The body :class:`ReceiveBodies` received for this request (none without it)."""
    body = environ.get(_RECEIVED)
    return body if isinstance(body, Received) else NO_BODY


def refusal(environ: Mapping[str, Any]) -> BodyError | None:
    """Why this request's body was refused, if it was."""
    error = environ.get(_REFUSAL)
    return error if isinstance(error, BodyError) else None
