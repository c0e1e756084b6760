"""Test servers on a thread of the test process, stopped in milliseconds.

``socketserver``'s ``serve_forever`` (Werkzeug's servers, the SMTP, DNS and SAML IdP servers of
the tests) notices a ``shutdown()`` only at its next poll, every half second by default: each
stop waited up to 0.5 s, hundreds of times a pass (about a minute of every CI pass on two
workers). Every test server is served here instead, polling every :data:`POLL_SECONDS`.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

#: How soon a stopped server notices; its idle thread wakes this often.
POLL_SECONDS = 0.02


def start(server: socketserver.BaseServer) -> threading.Thread:
    """Serve ``server`` on a daemon thread until :func:`stop`."""
    thread = threading.Thread(target=server.serve_forever,
                              kwargs={"poll_interval": POLL_SECONDS}, daemon=True)
    thread.start()
    return thread


def stop(server: socketserver.BaseServer) -> None:
    """Stop serving and close the listening socket (requests in flight finish on their own
    threads)."""
    server.shutdown()
    server.server_close()


def start_wsgi(app: Any, port: int = 0) -> BaseWSGIServer:
    """``app`` served by Werkzeug's threaded server on a loopback port (``server.server_port``)."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    start(server)
    return server


@contextmanager
def serving(app: Any, port: int = 0) -> Iterator[BaseWSGIServer]:
    """``app`` served on a loopback port for the block, stopped after it."""
    server = start_wsgi(app, port)
    try:
        yield server
    finally:
        stop(server)
