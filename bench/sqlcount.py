"""The gateway app with a per-process count of SQL statements, for bench/proxy.py only."""

from __future__ import annotations

import os
import threading
import time

from flask import Flask
from sqlalchemy import event

from gateway import create_app as create_gateway_app
from gateway import db as gateway_db


def create_app() -> Flask:
    """Build the gateway; every statement it runs bumps a counter flushed to BENCH_COUNT_SQL."""
    app = create_gateway_app()
    folder = os.environ["BENCH_COUNT_SQL"]
    os.makedirs(folder, exist_ok=True)
    count = [0]

    @event.listens_for(gateway_db.engine(app), "before_cursor_execute")
    def _count(*_args: object) -> None:
        count[0] += 1

    def flush() -> None:
        path = os.path.join(folder, str(os.getpid()))
        while True:
            with open(path, "w") as handle:
                handle.write(str(count[0]))
            time.sleep(0.2)

    threading.Thread(target=flush, daemon=True).start()
    return app
