"""Raw HTTP/1.1 over a socket, for what no client library sends: bodies that stall, bad framing."""

from __future__ import annotations

import re
import socket
import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests


def send_raw(url: str, raw: bytes, source: str | None = None) -> socket.socket:
    """A connection to ``url``'s host and port with ``raw`` sent on it (left open), from the
    loopback address ``source`` when given (another client as far as the server can tell)."""
    parts = urlsplit(url)
    sock = socket.create_connection(
        (parts.hostname or "127.0.0.1", parts.port or 80),
        timeout=5,
        source_address=(source, 0) if source else None,
    )
    sock.sendall(raw)
    return sock


def stalled_post(
    url: str, path: str, length: int, sent: bytes = b"", source: str | None = None
) -> socket.socket:
    """A form post announcing ``length`` bytes that sends only ``sent`` and then stops."""
    return send_raw(url, (
        f"POST {path} HTTP/1.1\r\nHost: {urlsplit(url).netloc}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {length}\r\n\r\n"
    ).encode() + sent, source)


def drip(socks: list[socket.socket], every: float) -> threading.Event:
    """Send one byte of body on each of ``socks`` every ``every`` seconds, each send well
    within any per-read timeout, until the returned event is set or a connection ends."""
    stop = threading.Event()

    def trickle() -> None:
        live = list(socks)
        while live and not stop.wait(every):
            for sock in list(live):
                try:
                    sock.sendall(b"a")
                except OSError:
                    live.remove(sock)

    threading.Thread(target=trickle, daemon=True).start()
    return stop


def read_head(sock: socket.socket) -> bytes:
    """Bytes from ``sock`` until a blank line ends a head (or the peer stops sending)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def answer_head(sock: socket.socket, timeout: float) -> bytes:
    """The status line and headers of the answer on ``sock`` (lower case), or what came."""
    sock.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            piece = sock.recv(4096)
            if not piece:
                break
            data += piece
    except OSError:
        pass
    return data.split(b"\r\n\r\n", 1)[0].lower()


def status_of(head: bytes) -> int | None:
    """The status code in an answer's ``head``, or None when nothing (readable) came."""
    match = re.match(rb"http/1\.[01] (\d{3}) ", head)
    return int(match.group(1)) if match else None


def pages_answered(url: str, count: int, timeout: float) -> list[int | None]:
    """``count`` GETs of ``url`` at once: each one's status, or None when not answered in time."""

    def page(_: int) -> int | None:
        try:
            return requests.get(url, timeout=timeout).status_code
        except requests.RequestException:
            return None

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(page, range(count)))


def stall_answers(stalled: list[socket.socket], timeout: float) -> tuple[set[int | None], bool]:
    """What the stalled connections got: the set of statuses, and whether every 503 among them
    said when to come back (``Retry-After``)."""
    heads = [answer_head(sock, timeout) for sock in stalled]
    statuses = {status_of(head) for head in heads}
    retry = all(b"\r\nretry-after: " in head for head in heads if status_of(head) == 503)
    return statuses, retry
