"""A proxied request's body, received from the client with a deadline and a bound on how many.

A client that announces a body and sends it slowly, or never, must not hold a worker thread or
an upstream connection for as long as it likes (CWE-400):

- every read from the client has a socket timeout (``REQUEST_BODY_TIMEOUT``); a body of up to
  ``REQUEST_BODY_BUFFER`` bytes is read whole, within that time in total, before the product is
  contacted, so a stalled body never holds an upstream connection;
- at most ``REQUEST_BODY_CONCURRENCY`` bodies per process are being received at once; beyond
  that the answer is an immediate 503 with ``Retry-After``, not a thread waiting in line;
- a body that cannot be read (a malformed chunk, a client gone, a parser's limit) is the
  client's error: 400, or 408 when too slow; never a 500, never counted as an upstream error.

The server's own socket is taken from the WSGI environ (``gunicorn.socket``, ``werkzeug.socket``);
without one (the Flask test client) reads are unbounded, as nothing can stall there.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

CHUNK = 64 * 1024


class BodyError(Exception):
    """The client's body could not be received: ``status`` 400 (malformed, cut) or 408 (slow)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status


class Busy(Exception):
    """Every slot for receiving a body is taken."""


def client_socket(environ: Mapping[str, Any]) -> socket.socket | None:
    sock = environ.get("gunicorn.socket") or environ.get("werkzeug.socket")
    return sock if isinstance(sock, socket.socket) else None


def abandon(environ: Mapping[str, Any]) -> None:
    """The body stays unread: stop reading from the client so the server closes the
    connection after the answer instead of draining (gunicorn waits up to 5 s per connection)."""
    sock = client_socket(environ)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RD)
        except OSError:
            pass


class _Reader:
    """Reads from the client's stream, each read under the socket timeout (and ``deadline``)."""

    def __init__(self, environ: Mapping[str, Any], stream: Any, timeout: float) -> None:
        self.stream = stream
        self.timeout = timeout
        self.deadline: float | None = None
        self.sock = client_socket(environ)
        self._saved = self.sock.gettimeout() if self.sock is not None else None

    def read(self, size: int) -> bytes:
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
        return data

    def restore(self) -> None:
        if self.sock is not None:
            try:
                self.sock.settimeout(self._saved)
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


class _LengthBody:
    """A streamed body of known length: urllib3 sends it as is, with its Content-Length."""

    def __init__(self, reader: _Reader, length: int) -> None:
        self.reader = reader
        self.length = length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = CHUNK) -> bytes:
        return self.reader.read(size if size and size > 0 else CHUNK)


def _chunks(head: bytes, reader: _Reader) -> Iterator[bytes]:
    yield head
    while chunk := reader.read(CHUNK):
        yield chunk


class Body:
    """What goes upstream: ``payload``, its ``length`` (the Content-Length to send) or
    ``chunked`` when unknown. ``close`` frees the slot a streamed body holds and gives the
    socket its own timeout back."""

    def __init__(
        self, payload: Any, chunked: bool, reader: _Reader | None, slot: threading.Semaphore | None
    ) -> None:
        self.payload = payload
        self.chunked = chunked
        self.length: int | None = None
        if isinstance(payload, bytes):
            self.length = len(payload)
        elif isinstance(payload, _LengthBody):
            self.length = payload.length
        self._reader = reader
        self._slot = slot

    def close(self) -> None:
        if self._slot is not None:
            self._slot.release()
            self._slot = None
        if self._reader is not None:
            self._reader.restore()
            self._reader = None


class Receiver:
    """Per process: receives request bodies, at most ``concurrency`` at a time."""

    def __init__(self, timeout: float, buffer: int, concurrency: int) -> None:
        self.timeout = timeout
        self.buffer = buffer
        self._slots = threading.BoundedSemaphore(concurrency)

    def receive(self, environ: Mapping[str, Any], stream: Any, length: int | None) -> Body:
        """A small body read whole now; a large one streamed later, holding its slot until
        ``close``. Raises :class:`Busy` or :class:`BodyError` (body left unread)."""
        # gunicorn marks every input terminated, a GET's too: chunked needs the header as well.
        chunked = not length and bool(
            environ.get("HTTP_TRANSFER_ENCODING") and environ.get("wsgi.input_terminated")
        )
        if not length and not chunked:
            return Body(None, False, None, None)
        if not self._slots.acquire(blocking=False):
            raise Busy()
        reader = _Reader(environ, stream, self.timeout)
        try:
            if length and length > self.buffer:
                return Body(_LengthBody(reader, length), False, reader, self._slots)
            data = self._buffer(reader, length or self.buffer + 1)
            if chunked and len(data) > self.buffer:
                return Body(_chunks(data, reader), True, reader, self._slots)
        except BaseException:
            self._slots.release()
            reader.restore()
            raise
        self._slots.release()
        reader.restore()
        if length and len(data) < length:
            raise BodyError(400, "body shorter than its Content-Length")
        return Body(data, False, None, None)

    def _buffer(self, reader: _Reader, limit: int) -> bytes:
        reader.deadline = time.monotonic() + self.timeout
        parts: list[bytes] = []
        size = 0
        while size < limit and (piece := reader.read(min(CHUNK, limit - size))):
            parts.append(piece)
            size += len(piece)
        reader.deadline = None
        return b"".join(parts)
