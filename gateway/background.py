"""Each serving process's background work: the email-change repair, mail delivery, the
audit log's retention (``AUDIT_RETENTION_DAYS``) and the pruning of spent single-use ids
(``tokens.prune_spent``), on a timer.

One daemon thread per process runs both every ``BACKGROUND_INTERVAL_SECONDS``, and delivers
mail at once when a commit queued some (:func:`gateway.identity.mail.on_queued_commit`), so mail
is not held back in normal operation. Requests of any kind only start it, and only once: it
does not depend on which hook a request reaches (proxied requests never reached the old
``before_request`` trigger).

Started by the first request a process serves, checked by process id: gunicorn builds the app
in each worker, and a process forked from one that had started it (``preload_app``) starts its
own, since threads do not survive a fork. CLI commands and the development server's reloader
never serve, so they start none; cron runs ``flask --app gateway email-change repair`` and
``flask --app gateway mail deliver`` instead. Running in several processes at once is safe:
the repair claims each change and the deliverer each mail row in the database. The thread ends
with the process, finishing the job in hand (``stop``, registered with ``atexit``).

Unit tests build apps with the test-only switch ``background_work=False``
(``config.gateway.GatewayTestSwitches``, set by ``tests/support/console.py``), not a production
setting: they run the jobs themselves.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from typing import Any

from flask import Flask

from config.gateway import test_switches
from gateway.identity import audit_log, mail, mail_delivery, tokens
from gateway.products import propagation

log = logging.getLogger("gateway.background")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
_KEY = "gateway.background"
#: Every worker started in this process, so that all can be stopped at once (``stop_all``).
_STARTED: weakref.WeakSet[BackgroundWorker] = weakref.WeakSet()


def init_app(app: Flask) -> None:
    """Wrap the app so that its first request in each process starts the worker."""
    if not test_switches(app).background_work:
        return
    worker = BackgroundWorker(app, max(1.0, float(app.config["BACKGROUND_INTERVAL_SECONDS"])))
    app.extensions[_KEY] = worker
    mail.on_queued_commit(app, worker.kick)
    app.wsgi_app = worker.starting_with(app.wsgi_app)  # type: ignore[method-assign,assignment]


def stop_all() -> None:
    """End every worker this process started: an app that is thrown away (a test's) must not
    leave a thread working on a database that is gone."""
    for worker in list(_STARTED):
        worker.stop()


def stop(app: Flask) -> None:
    """End ``app``'s worker if it has one (tests, shutdown)."""
    worker: BackgroundWorker | None = app.extensions.get(_KEY)
    if worker is not None:
        worker.stop()


class BackgroundWorker:
    """Runs the repair and delivery every ``interval`` seconds, delivery also when kicked."""

    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._thread: threading.Thread | None = None

    def starting_with(self, wsgi_app: WSGIApp) -> WSGIApp:
        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            if self._pid != os.getpid():
                self.start()
            return wsgi_app(environ, start_response)

        return app

    def start(self) -> None:
        """Start the thread in this process, once (a forked child starts its own)."""
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pid = os.getpid()
            self._stopping.clear()
            self._thread = threading.Thread(target=self._run, name="gateway-background",
                                            daemon=True)
            self._thread.start()
            _STARTED.add(self)
        atexit.register(self.stop)

    def kick(self) -> None:
        """Deliver mail now rather than at the next tick (a commit just queued some)."""
        self._wake.set()

    def stop(self, timeout: float = 15) -> None:
        """Let the job in hand finish, then end the thread."""
        self._stopping.set()
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self) -> None:
        next_round = 0.0
        while not self._stopping.is_set():
            self._wake.clear()
            if time.monotonic() >= next_round:
                self._job("email change repair", _repair)
                self._job("audit prune", audit_log.prune)
                self._job("spent tokens prune", tokens.prune_spent)
                next_round = time.monotonic() + self.interval
            self._job("mail delivery", mail_delivery.deliver_due)
            self._wake.wait(max(0.0, next_round - time.monotonic()))

    def _job(self, name: str, job: Callable[[], object]) -> None:
        try:
            with self.app.app_context():
                job()
        except Exception:  # noqa: BLE001 - the next round retries; the thread must live on
            log.exception("%s failed", name)


def _repair() -> None:
    count = propagation.repair()
    if count:
        log.warning("repaired %d interrupted email change(s)", count)
