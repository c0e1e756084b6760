"""A loopback TCP port in front of a real server, whose behaviour a test switches at will.

Put it between the gateway and a dependency (a product, PostgreSQL) to make that dependency
go away and come back without touching the dependency itself:

- ``forward``: bytes flow both ways unchanged (the normal case);
- ``refuse``: nothing listens, so connecting is refused (a server that is down);
- ``hang``: connections are accepted and read, and never answered (a server that is stuck);
- ``http500``: every request gets ``500 Internal Server Error`` (a product that is failing).

Each switch also cuts every connection already open, as a restarted or crashed server would.
"""

from __future__ import annotations

import socket
import threading

from tests.support.raw_http import read_head
from tests.support.stack import free_port

#: The gateway's read timeout towards products in the fault suites (UPSTREAM_READ_TIMEOUT).
READ_TIMEOUT = 2

MODES = ("forward", "refuse", "hang", "http500")
_ANSWER_500 = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
    b"Content-Length: 21\r\nConnection: close\r\n\r\nproduct-side failure\n"
)


class FaultyPort:
    def __init__(self, target_port: int, mode: str = "forward", host: str = "127.0.0.1") -> None:
        self.host = host
        self.target = (host, target_port)
        self.port = free_port()
        self.mode = "refuse"
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._closed = False
        self.set_mode(mode)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"mode is one of {MODES}")
        with self._lock:
            self.mode = mode
            self._cut_all()
            if mode == "refuse":
                self._stop_listening()
            elif self._listener is None:
                self._listen()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._stop_listening()
            self._cut_all()

    # --- internals ---------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        listener.settimeout(0.1)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def _cut_all(self) -> None:
        for sock in list(self._sockets):
            _close(sock)
        self._sockets.clear()

    def _track(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.add(sock)

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            self._track(client)
            mode = self.mode
            if mode == "forward":
                threading.Thread(target=self._forward, args=(client,), daemon=True).start()
            elif mode == "hang":
                threading.Thread(target=_drain, args=(client,), daemon=True).start()
            elif mode == "http500":
                threading.Thread(target=_answer_500, args=(client,), daemon=True).start()
            else:
                _close(client)

    def _forward(self, client: socket.socket) -> None:
        try:
            upstream = socket.create_connection(self.target, timeout=5)
        except OSError:
            _close(client)
            return
        upstream.settimeout(None)
        self._track(upstream)
        threading.Thread(target=_pump, args=(upstream, client), daemon=True).start()
        _pump(client, upstream)


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(sink)


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(65536):
            pass
    except OSError:
        pass


def _answer_500(sock: socket.socket) -> None:
    try:
        read_head(sock)
        sock.sendall(_ANSWER_500)
    except OSError:
        pass
    finally:
        _close(sock)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
