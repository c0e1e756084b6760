"""gunicorn settings for the answer server: forward-auth (``/auth/nginx``, ``/auth/forward``,
``/auth/envoy/...``) on an event loop, beside the Console's server (config/gunicorn_gateway.py).

    gunicorn -c config/gunicorn_answers.py 'gateway:create_answer_app()'

Worker class: uvicorn with httptools and uvloop (``config/answer_worker.py``), chosen by
measurement (docs/decisions/server.md): the forward-auth answer is the one request every
product request behind an edge waits for, and gunicorn's threaded worker alone costs more than
the 0.2 ms it may take. gunicorn supervises the workers as it does the Console's.

Environment: ``ANSWERS_BIND`` (default ``127.0.0.1:5010``; the edge's ``auth_request`` /
``forward_auth`` go there), ``ANSWERS_WORKERS`` (default 1 per CPU up to 4: one event loop
per core), ``GATEWAY_TIMEOUT`` (seconds an event loop may stay silent before its worker is
restarted). The settings of the app are the gateway's (same environment as the Console's
server); ``PROMETHEUS_MULTIPROC_DIR``, shared with the Console's server, makes the Console's
``/metrics`` count these answers too.
"""

from __future__ import annotations

import os

from config.gunicorn_gateway import AppWritesTheAccessLog, logconfig_dict  # noqa: F401

logger_class = AppWritesTheAccessLog
bind = os.environ.get("ANSWERS_BIND", "127.0.0.1:5010")
workers = int(os.environ.get("ANSWERS_WORKERS", min(4, os.cpu_count() or 1)))
worker_class = "config.answer_worker.AnswerWorker"
timeout = int(os.environ.get("GATEWAY_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# Two gunicorn masters on one host (this and the Console's) would share the default control
# socket path; this one needs none.
control_socket_disable = True
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")


def child_exit(_server, worker) -> None:  # type: ignore[no-untyped-def]
    """Drop a dead worker's live gauges from the shared Prometheus directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
