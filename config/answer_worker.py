"""gunicorn's worker for the answer server: uvicorn (httptools + uvloop) in a gunicorn worker.

gunicorn supervises (a worker that dies or goes silent for ``timeout`` seconds is replaced,
as for the Console); uvicorn serves. Its own handling of ``X-Forwarded-*`` is off: the
gateway believes them from the edge only (``gateway.web.client.ForwardedFromPeers``) and
judges the forward-auth caller by the socket's peer. No ``Server`` header (it names the
software to anyone who asks). The request's head is bounded as the Console's gunicorn bounds
it, before the app sees it (``config/answer_protocol.py``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from uvicorn import Config, Server
from uvicorn_worker import UvicornWorker

from config.answer_protocol import LimitedHttpToolsProtocol


class AnswerWorker(UvicornWorker):
    CONFIG_KWARGS: dict[str, Any] = {
        "loop": "uvloop",
        "http": LimitedHttpToolsProtocol,
        "lifespan": "on",
        "proxy_headers": False,
        "server_header": False,
        "access_log": False,
        "ws": "none",
    }


def serve_in_thread(app: Any, host: str, port: int) -> Server:
    """Serve ``app`` as the workers do, in a thread of this process (``python app.py`` and the
    test stack's single-process gateway: no supervision there). Stop it with
    ``server.should_exit = True``; returns once it listens."""
    config = Config(app, host=host, port=port, log_config=None, **AnswerWorker.CONFIG_KWARGS)
    server = Server(config)
    thread = threading.Thread(target=server.run, name="answers", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the answer server did not start on {host}:{port}")
        time.sleep(0.02)
    return server
