"""Serve one app of the stack on a loopback port (used by end-to-end tests as a subprocess).

    python -m tests.support.serve gateway|answers|segment|sendgrid|notes PORT

``answers`` is the gateway's answer server (forward-auth, ASGI) under uvicorn as its gunicorn
workers run it (``config/answer_worker.py``), on the gateway's database (migrated by
``gateway``, started first); every other app is served by Werkzeug's threaded server.

Configuration comes from the environment, exactly as in a deployment; only the test switches
(cheap password hashing; the products' fault endpoint) are thrown here, as arguments of the
factories, since no app reads them from the environment. The gateway's schema is created with
its Alembic migrations; products create theirs at start-up.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from werkzeug.serving import make_server

from tests.support.switches import GATEWAY_PROCESS as GATEWAY_SWITCHES
from tests.support.switches import PRODUCT as PRODUCT_SWITCHES

#: Fault injection: die right after the email-change saga changed this product (the test of the
#: repair after a crash). The gateway itself has no such switch; it only sends the signal.
CRASH_AFTER = "EMAIL_CHANGE_CRASH_AFTER"


def build(name: str):  # type: ignore[no-untyped-def]
    if name == "gateway":
        from gateway import create_app, migrate

        app = create_app(switches=GATEWAY_SWITCHES)
        migrate.upgrade(app.config["DATABASE_URL"])
        if os.environ.get(CRASH_AFTER):
            _crash_after(app, os.environ[CRASH_AFTER])
        return app
    if name == "segment":
        from product_stubs.segment import create_app as create_segment

        return create_segment(switches=PRODUCT_SWITCHES)
    if name == "sendgrid":
        from product_stubs.sendgrid import create_app as create_sendgrid

        return create_sendgrid(switches=PRODUCT_SWITCHES)
    if name == "notes":  # the product kit as a third product (tests/support/third_product.py)
        from tests.support.third_product import create_app as create_notes

        return create_notes(switches=PRODUCT_SWITCHES)
    raise SystemExit(f"unknown app {name}")


def _crash_after(app: Any, product: str) -> None:
    from gateway.products.propagation import step_applied

    def crash(_sender: Any, **step: str) -> None:
        if step["product"] == product:
            print(f"injected crash after {product}", flush=True)
            os._exit(70)

    step_applied.connect(crash, app, weak=False)


def main() -> None:
    name, port = sys.argv[1], int(sys.argv[2])
    if name == "answers":
        from uvicorn import Config, Server

        from config.answer_worker import AnswerWorker
        from gateway import create_answer_app

        app = create_answer_app(switches=GATEWAY_SWITCHES)
        print(f"serving {name} on {port}", flush=True)
        Server(Config(app, host="127.0.0.1", port=port, log_config=None,
                      **AnswerWorker.CONFIG_KWARGS)).run()
        return
    server = make_server("127.0.0.1", port, build(name), threaded=True)
    print(f"serving {name} on {port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
