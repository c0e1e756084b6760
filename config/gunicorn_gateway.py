"""gunicorn settings for the gateway (production serving).

    gunicorn -c config/gunicorn_gateway.py 'gateway:create_app()'

Worker class: ``gthread``. The gateway is a streaming proxy: a thread is busy for as long as a
product takes to answer and the body to flow through, so each worker needs many concurrent
requests without an event loop that monkey-patches requests, SQLAlchemy or psycopg. A few
processes (crash isolation, several cores) times a bounded number of threads keeps one worker's
database pool (5 + 10 overflow) and upstream pool (64) large enough for its threads.

Environment: ``GATEWAY_BIND`` (default ``127.0.0.1:5000``), ``WEB_CONCURRENCY`` (workers,
default 2 per CPU up to 8), ``GATEWAY_THREADS`` (default 16), ``GATEWAY_TIMEOUT`` (seconds of
worker silence before it is restarted, default 60, above ``UPSTREAM_READ_TIMEOUT``).
``PROMETHEUS_MULTIPROC_DIR`` (an empty directory) makes ``/metrics`` sum every worker.
Request bodies (Console forms and proxied uploads alike) are received by at most
``REQUEST_BODY_CONCURRENCY`` threads per worker (default here: half of ``GATEWAY_THREADS``), each
within ``REQUEST_BODY_TIMEOUT``: clients that stall their bodies get 408 or 503 while the other
threads keep serving.
The app is built in each worker (no ``preload_app``), so no database connection or upstream
pool is ever shared across a fork.
"""

from __future__ import annotations

import os

from gunicorn.glogging import Logger

from config.head_limits import LIMIT_REQUEST_FIELD_SIZE, LIMIT_REQUEST_FIELDS, LIMIT_REQUEST_LINE


class AppWritesTheAccessLog(Logger):
    """gunicorn's own access log switched off for good.

    The app writes one JSON line per request; gunicorn's line would duplicate it. Setting
    ``accesslog = None`` is not enough: with a ``logconfig_dict`` gunicorn still builds every
    line's fields and hands them to a logger with no handler (5 % of a forward-auth worker).
    Naming a logger class also means ``statsd_host`` is not honoured: metrics are Prometheus's
    (``/metrics``)."""

    access_log_enabled = False


logger_class = AppWritesTheAccessLog
bind = os.environ.get("GATEWAY_BIND", "127.0.0.1:5000")
workers = int(os.environ.get("WEB_CONCURRENCY", min(8, 2 * (os.cpu_count() or 1))))
worker_class = "gthread"
threads = int(os.environ.get("GATEWAY_THREADS", "16"))
# Read by the app in each worker: stalled uploads can never take every thread.
os.environ.setdefault("REQUEST_BODY_CONCURRENCY", str(max(1, threads // 2)))
timeout = int(os.environ.get("GATEWAY_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# Bounds on the request line and headers (414/431 beyond them), the answer server's too.
limit_request_line = LIMIT_REQUEST_LINE
limit_request_fields = LIMIT_REQUEST_FIELDS
limit_request_field_size = LIMIT_REQUEST_FIELD_SIZE
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GATEWAY_LOG_LEVEL", "info")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(message)s"}},
    "handlers": {
        "stderr": {"class": "logging.StreamHandler", "formatter": "plain", "stream": "ext://sys.stderr"},
    },
    # gunicorn merges this over its defaults shallowly: its root logger names a "console"
    # handler that no longer exists, so the root logger is configured here.
    "root": {"level": "INFO", "handlers": ["stderr"]},
    "loggers": {
        "gateway": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
        "gunicorn.error": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
}


def child_exit(_server, worker) -> None:  # type: ignore[no-untyped-def]
    """Drop a dead worker's live gauges from the shared Prometheus directory."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
