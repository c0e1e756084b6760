"""Every request body, Console form and proxied upload alike, received under one deadline and
bounded slots before anything in the app reads it.

A client that announces a body and sends it slowly, or never, must not hold a worker thread for
as long as it likes (CWE-400): Werkzeug reads a Console form with no deadline of its own, and a
thread blocked there is lost to every other request. So :class:`ReceiveBodies`, the outermost
WSGI layer of the gateway, receives each body first:

- at most ``REQUEST_BODY_CONCURRENCY`` bodies per process are being received at once, at most
  ``REQUEST_BODY_PER_CLIENT`` of them from one client address (as ``gateway.web.client`` gives
  it, after the trusted proxies), and at most half of them large streamed ones; one more is
  refused at once with 503 and ``Retry-After``, never a thread waiting in line. 503, not 413:
  the server is busy, the body is not too large. Bodies being received thus hold at most
  concurrency x ``REQUEST_BODY_BUFFER`` bytes of a process's memory, a flood of stalled
  uploads can take only that many threads, never the whole pool, and a few connections from
  one address cannot take every slot from everyone else;
- a body of up to ``REQUEST_BODY_BUFFER`` bytes (by Content-Length, or chunked and ending
  within it) is read whole within ``REQUEST_BODY_TIMEOUT`` in total, however it trickles in
  (``gateway.web.deadlines`` cuts a read at the deadline); the app then reads it from memory. A
  stall is a 408 after at most that long, and the thread is free again;
- a larger body is streamed to whoever reads it (the proxy, to the product), holding its slot
  until the answer is closed, and must keep arriving at ``REQUEST_BODY_MIN_RATE`` bytes a
  second (as Apache's mod_reqtimeout ``MinRate``): each byte earns ``1 / rate`` seconds, the
  credit never more than ``REQUEST_BODY_TIMEOUT`` ahead, so a stall or a slower trickle is a 408
  within that time;
- a body that cannot be read (a malformed chunk, a client gone, shorter than its
  Content-Length) is the client's error: 400.

A refused body is not answered here: the refusal is left in the environ (:func:`refusal`), the
body replaced by an empty one, and the app answers it first thing (``gateway.web.limits``) with
its request id, headers and access-log line. Deadlines need the server's socket, taken from the
environ (``gunicorn.socket``, ``werkzeug.socket``); without one (the Flask test client) nothing
can stall.
"""

from __future__ import annotations

import io
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from werkzeug.wsgi import ClosingIterator, get_content_length

from gateway.web.client import ClientAddressOf, client_ip_of, networks
from gateway.web.deadlines import Deadline, Watchdog

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


class _Reader:
    """Reads the server's ``wsgi.input`` never past the Content-Length (``remaining``; None
    when chunked), each read cut at the ``deadline`` when there is a socket to watch."""

    def __init__(
        self, environ: Mapping[str, Any], length: int | None, deadline: Deadline | None
    ) -> None:
        self.stream = environ["wsgi.input"]
        self.remaining = length
        self.ended = False
        self.deadline = deadline
        self.rate: float | None = None
        self.grace = 0.0

    def streaming(self, rate: float, grace: float) -> None:
        """From now on each byte read earns ``1 / rate`` seconds, never more than ``grace``
        ahead of now."""
        self.rate = rate
        self.grace = grace

    def read(self, size: int) -> bytes:
        if self.remaining is not None:
            size = min(size, self.remaining)
        if self.ended or size <= 0:
            self._end()
            return b""
        try:
            data: bytes = self.stream.read(size)
        except Exception as exc:  # the server's parser or stream: the client sent nonsense
            self._check_deadline()
            raise BodyError(400, exc.__class__.__name__) from exc
        self._check_deadline()  # a cut read looks short, or ended: it was the deadline
        if not data:
            if self.remaining:
                raise BodyError(400, "body shorter than its Content-Length")
            self._end()
        elif self.remaining is not None:
            self.remaining -= len(data)
            if not self.remaining:
                self._end()
        if data and self.rate is not None and self.deadline is not None:
            now = time.monotonic()
            self.deadline.move(min(self.deadline.at + len(data) / self.rate, now + self.grace))
        return data

    def _check_deadline(self) -> None:
        if self.deadline is not None and self.deadline.cut:
            raise BodyError(408, "body deadline")

    def _end(self) -> None:
        self.ended = True
        self.done()

    def done(self) -> None:
        """No more reads: the socket is no longer watched."""
        if self.deadline is not None:
            self.deadline.end()


class _Streamed(io.RawIOBase):
    """A body too large to buffer, read on demand: what was read while deciding, then the rest
    from the client in pieces of at most ``piece`` bytes (each read must end before the
    deadline, which only a finished read moves)."""

    def __init__(self, head: bytes, reader: _Reader, piece: int) -> None:
        super().__init__()
        self._head = head
        self.reader = reader
        self.piece = piece

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        if self._head:
            data, self._head = self._head[: len(view)], self._head[len(view):]
        else:
            data = self.reader.read(min(len(view), self.piece))
        view[: len(data)] = data
        return len(data)


class _Slot:
    """One body being received, counted against the bounds until ``release``."""

    def __init__(self, slots: _Slots, client: str) -> None:
        self._slots = slots
        self.client = client
        self.streamed = False
        self.held = True

    def stream(self) -> bool:
        """Count this body as a streamed one, if that bound allows."""
        return self._slots.stream(self)

    def release(self) -> None:
        if self.held:
            self.held = False
            self._slots.release(self)


class _Slots:
    """Per process: ``total`` bodies at once, ``per_client`` of them per client address, and at
    most half of them (at least one) streamed."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total = total
        self.per_client = per_client
        self.streams = max(1, total // 2)
        self._lock = threading.Lock()
        self._taken = 0
        self._streaming = 0
        self._by_client: dict[str, int] = {}

    def take(self, client: str) -> _Slot | None:
        with self._lock:
            mine = self._by_client.get(client, 0)
            if self._taken >= self.total or mine >= self.per_client:
                return None
            self._taken += 1
            self._by_client[client] = mine + 1
        return _Slot(self, client)

    def stream(self, slot: _Slot) -> bool:
        with self._lock:
            if not slot.streamed:
                if self._streaming >= self.streams:
                    return False
                self._streaming += 1
                slot.streamed = True
        return True

    def release(self, slot: _Slot) -> None:
        with self._lock:
            self._taken -= 1
            self._streaming -= slot.streamed
            left = self._by_client[slot.client] - 1
            if left:
                self._by_client[slot.client] = left
            else:
                del self._by_client[slot.client]


class Received:
    """A received body: ``payload`` (bytes, a stream, or None), its ``length`` (None when
    chunked and streamed) and whether it is ``chunked``. ``close`` frees the slot a streamed
    body holds, ends its deadline, and abandons what was left unread."""

    def __init__(
        self,
        payload: bytes | _Streamed | None,
        length: int | None,
        slot: _Slot | None = None,
        environ: Mapping[str, Any] | None = None,
    ) -> None:
        self.payload = payload
        self.length = length
        self.chunked = isinstance(payload, _Streamed) and length is None
        self._slot = slot
        self._environ = environ

    def close(self) -> None:
        if self._slot is None:
            return
        self._slot.release()
        self._slot = None
        if isinstance(self.payload, _Streamed):
            self.payload.reader.done()
            if not self.payload.reader.ended and self._environ is not None:
                abandon(self._environ)


NO_BODY = Received(None, None)


class Receiver:
    """Per process: receives request bodies within their deadlines and slots."""

    def __init__(
        self,
        timeout: float,
        buffer: int,
        concurrency: int,
        per_client: int,
        min_rate: int,
        client_of: Callable[[Mapping[str, Any]], str] = client_ip_of,
    ) -> None:
        self.timeout = timeout
        self.buffer = buffer
        self.min_rate = min_rate
        self.client_of = client_of
        self._slots = _Slots(concurrency, per_client)
        self._watchdog = Watchdog()
        # A read must finish within the credit it can earn, even at the minimum rate.
        self.piece = max(1024, min(CHUNK, int(min_rate * timeout / 2)))

    @classmethod
    def from_settings(cls, config: Mapping[str, Any]) -> Receiver:
        return cls(
            timeout=float(config["REQUEST_BODY_TIMEOUT"]),
            buffer=int(config["REQUEST_BODY_BUFFER"]),
            concurrency=int(config["REQUEST_BODY_CONCURRENCY"]),
            per_client=int(config["REQUEST_BODY_PER_CLIENT"]),
            min_rate=int(config["REQUEST_BODY_MIN_RATE"]),
            client_of=ClientAddressOf(
                int(config["TRUSTED_PROXY_HOPS"]), networks(config["FORWARD_AUTH_ALLOW"])
            ),
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
        slot = self._slots.take(self.client_of(environ))
        if slot is None or (length and length > self.buffer and not slot.stream()):
            if slot is not None:
                slot.release()
            raise BodyError(503, "request bodies at their bound")
        sock = client_socket(environ)
        deadline = time.monotonic() + self.timeout
        reader = _Reader(
            environ, length, self._watchdog.watch(sock, deadline) if sock is not None else None
        )
        try:
            if slot.streamed:
                return self._streamed(b"", reader, length, slot, environ)
            data = self._buffer(reader, length or self.buffer + 1)
            if chunked and len(data) > self.buffer:
                if not slot.stream():
                    raise BodyError(503, "streamed request bodies at their bound")
                return self._streamed(data, reader, None, slot, environ)
        except BaseException:
            slot.release()
            reader.done()
            raise
        slot.release()
        reader.done()
        return Received(data, len(data))

    def _streamed(
        self,
        head: bytes,
        reader: _Reader,
        length: int | None,
        slot: _Slot,
        environ: Mapping[str, Any],
    ) -> Received:
        reader.streaming(self.min_rate, self.timeout)
        return Received(_Streamed(head, reader, self.piece), length, slot, environ)

    def _buffer(self, reader: _Reader, limit: int) -> bytes:
        parts: list[bytes] = []
        size = 0
        while size < limit and (piece := reader.read(min(CHUNK, limit - size))):
            parts.append(piece)
            size += len(piece)
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
