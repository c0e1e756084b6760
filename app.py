"""Run the whole stack with demo data: gateway :5000, Segment :5001, SendGrid :5002.

    python app.py              # SQLite databases under instance/, demo users printed
    python app.py --reset      # start again from empty databases
    python app.py --edge nginx # the same stack behind nginx (or: --edge caddy) on :8080,
                               # running config/edge with the gateway as forward-auth service

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
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Mapping
from types import FrameType

from werkzeug.serving import BaseWSGIServer, make_server

from config import DEMO_MARKER

HOST = "127.0.0.1"
PORTS = {"gateway": 5000, "segment": 5001, "sendgrid": 5002}
EDGE_PORT = 8080
#: Health checks of the edge go straight to loopback, whatever the environment's proxies.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
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
    # The demo's support route: an address whose mail nobody reads (set your own).
    os.environ.setdefault("SUPPORT_EMAIL", "support@example.com")
    os.environ.update(demo_secrets(os.environ))
    return {name: os.environ[name] for name in PER_RUN_SECRETS}


def edge_environment(kind: str) -> None:
    """Settings for the stack behind an edge on this host: mail links and the assertion's
    issuer name the edge's address; the edge is the one trusted hop and the one caller of the
    forward-auth endpoints."""
    from config import edge as edge_config

    public = f"http://{HOST}:{EDGE_PORT}"
    os.environ.setdefault("PUBLIC_URL", public)
    os.environ.setdefault("GATEWAY_PUBLIC_URL", public)
    for name, value in edge_config.GATEWAY_ENV.items():
        os.environ.setdefault(name, value)


def start_edge(kind: str) -> subprocess.Popen[bytes]:
    """Run the shipped edge configuration (config/edge) from a temporary folder, in the
    foreground, and wait until it answers."""
    from config import edge as edge_config

    workdir = tempfile.mkdtemp(prefix=f"unified-login-{kind}-")
    run = edge_config.command(
        kind, workdir,
        listen=f"{HOST}:{EDGE_PORT}",
        **{name: f"{HOST}:{port}" for name, port in PORTS.items()},
    )
    process = subprocess.Popen(run.argv, env=run.env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{kind} exited with status {process.returncode}")
        try:
            with _NO_PROXY.open(f"http://{HOST}:{EDGE_PORT}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit(f"{kind} did not answer on :{EDGE_PORT}")


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
    parser.add_argument(
        "--edge", choices=("nginx", "caddy"),
        help=f"put that edge proxy in front, public entry http://{HOST}:{EDGE_PORT}",
    )
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.edge:
        from config import edge as edge_config

        try:
            edge_config.binary(args.edge)
        except edge_config.EdgeMissing as exc:
            print(exc, file=sys.stderr)
            return 2
        edge_environment(args.edge)
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

    edge = start_edge(args.edge) if args.edge else None
    entry = EDGE_PORT if edge else PORTS["gateway"]
    print(f"\nUnified Login is running: http://{HOST}:{entry}/")
    if edge:
        print(f"  (behind {args.edge} on :{EDGE_PORT}; gateway :{PORTS['gateway']} answers its "
              "forward-auth requests)")
    print(f"  Segment   http://{HOST}:{entry}/segment/  (upstream :{PORTS['segment']})")
    print(f"  SendGrid  http://{HOST}:{entry}/sendgrid/ (upstream :{PORTS['sendgrid']})")
    print(f"  Mailbox   http://{HOST}:{entry}/dev/mailbox (demo mail lands here)")
    print("\nDemo Console users (email verified, 2FA off):")
    print("\n".join(lines))
    print("\nDemo product users (their own product passwords, for linking):")
    print("  Segment   alice@example.com segment-alice-pass · bob@example.com segment-bob-pass")
    print("  SendGrid  dave@example.com sendgrid-dave-pass · alice@example.com is already linked")
    print("\nDemo SCIM tokens (generated for this run; demo values, refused in production).")
    print("The assertion signing key is a demo key made once in instance/keys (refused in")
    print("production); products fetch its public half from /.well-known/jwks.json:")
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
    if edge:
        edge.terminate()
        edge.wait(timeout=10)
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
