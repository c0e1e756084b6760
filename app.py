"""Run the whole stack with demo data: gateway :5000, Segment :5001, SendGrid :5002.

    python app.py            # SQLite databases under instance/, demo users printed
    python app.py --reset    # start again from empty databases

This is the demo/development runner (werkzeug threads in one process). For production, serve
each app with gunicorn (see README, "Deployment").
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType

from werkzeug.serving import BaseWSGIServer, make_server

from config import DEMO_MARKER

HOST = "127.0.0.1"
PORTS = {"gateway": 5000, "segment": 5001, "sendgrid": 5002}
ROOT = os.path.dirname(os.path.abspath(__file__))


#: Secrets shared by the gateway and a product, generated per run unless the operator set them.
PER_RUN_SECRETS = ("SEGMENT_SCIM_TOKEN", "SENDGRID_SCIM_TOKEN")


def demo_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """Fresh values for the per-run secrets missing from ``environ``: a value printed in the
    source tree would let anyone provision users in a demo left running. They keep the demo
    marker, so production still refuses them.

    The assertion signing key is the gateway's own: ``create_app`` generates a demo key
    (random, marked demo, refused in production) in ``instance/keys`` when there is none, and
    products fetch only the public JWKS."""
    return {
        name: DEMO_MARKER + secrets.token_urlsafe(24)
        for name in PER_RUN_SECRETS
        if name not in environ
    }


def demo_environment() -> dict[str, str]:
    """Say ``APP_ENV=demo`` (apps default to production) and fill in the per-run secrets;
    returns the SCIM tokens, for printing."""
    os.environ.setdefault("APP_ENV", "demo")
    os.environ.update(demo_secrets(os.environ))
    return {name: os.environ[name] for name in PER_RUN_SECRETS}


def build_stack():  # type: ignore[no-untyped-def]
    """Create the three apps, migrate their databases and load the demo data."""
    from gateway import create_app as create_gateway
    from gateway import migrate
    from gateway.cli.demo import DEMO_USERS, console_user_id, record_demo_link, seed_demo_users
    from product_stubs import segment, sendgrid

    gateway_app = create_gateway()
    products = {"segment": segment.create_app(), "sendgrid": sendgrid.create_app()}
    with gateway_app.app_context():
        migrate.upgrade(gateway_app.config["DATABASE_URL"])
        lines = seed_demo_users()
    segment.seed_demo_data(products["segment"])
    sendgrid.seed_demo_data(products["sendgrid"])
    modules = {"segment": segment, "sendgrid": sendgrid}
    for email, _password, links in DEMO_USERS:
        for product, product_email in links.items():
            with gateway_app.app_context():
                console_id = console_user_id(email)
            product_user_id = modules[product].link_user_for_demo(
                products[product], product_email, console_id
            )
            with gateway_app.app_context():
                record_demo_link(email, product, product_user_id)
    return gateway_app, products, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reset", action="store_true", help="delete the demo databases first")
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.reset:
        shutil.rmtree(os.path.join(ROOT, "instance"), ignore_errors=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tokens = demo_environment()
    gateway_app, products, lines = build_stack()

    servers: list[BaseWSGIServer] = []
    for name, wsgi_app in [("gateway", gateway_app), *products.items()]:
        server = make_server(HOST, PORTS[name], wsgi_app, threaded=True)
        servers.append(server)
        threading.Thread(target=server.serve_forever, name=name, daemon=True).start()

    print(f"\nUnified Login is running: http://{HOST}:{PORTS['gateway']}/")
    print(f"  Segment   http://{HOST}:{PORTS['gateway']}/segment/  (upstream :{PORTS['segment']})")
    print(f"  SendGrid  http://{HOST}:{PORTS['gateway']}/sendgrid/ (upstream :{PORTS['sendgrid']})")
    print(f"  Mailbox   http://{HOST}:{PORTS['gateway']}/dev/mailbox (demo mail lands here)")
    print("\nDemo Console users (email verified, 2FA off):")
    print("\n".join(lines))
    print("\nDemo product users (their own product passwords, for linking):")
    print("  Segment   alice@example.com segment-alice-pass · bob@example.com segment-bob-pass")
    print("  SendGrid  dave@example.com sendgrid-dave-pass · alice@example.com is already linked")
    print("\nDemo SCIM tokens (generated for this run, like the assertion keys; demo values,")
    print("refused in production):")
    for name, value in tokens.items():
        print(f"  {name}={value}")
    print("\nPress Ctrl-C to stop.")

    stop = threading.Event()

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    stop.wait()
    print("\nStopping...")
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
