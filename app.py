"""Run the whole stack with demo data: the gateway on :5000 (the Console and the built-in
proxy), its answer server on :5010 (forward-auth: ``/auth/nginx``, ``/auth/forward``,
``/auth/envoy/...``, what an edge asks before each product request) and every product of the
products file that names a ``demo_app`` on its upstream's port (the default file: Segment
:5001, SendGrid :5002).

    python app.py              # SQLite databases under instance/, demo users printed
    python app.py --reset      # start again from empty databases
    python app.py --edge nginx # the same stack behind nginx (or: --edge caddy) on :8080,
                               # running config/edge with the gateway as forward-auth service
    python app.py --port 5050  # the gateway on another port (the products' come from the
                               # products file; --answers-port moves the answer server)

``PUBLIC_URL`` (``PUBLIC_URL=http://localhost:5000 python app.py``) is all it takes to serve the
demo under another name: the products read it as their issuer too (config/products.py).

This is the demo/development runner, one process: Werkzeug's threads for the gateway and the
products, uvicorn in a thread for the answer server. For production, serve each with gunicorn
(see docs/operations.md, "Deployment": the gateway and its answer server are two gunicorns).
"""

from __future__ import annotations

import argparse
import importlib
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
from dataclasses import dataclass
from types import FrameType, ModuleType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from config import DEMO_MARKER, products_file

HOST = "127.0.0.1"
GATEWAY_PORT = 5000
ANSWERS_PORT = 5010
EDGE_PORT = 8080
#: Health checks of the edge go straight to loopback, whatever the environment's proxies.
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))
ROOT = os.path.dirname(os.path.abspath(__file__))


def product_specs(environ: Mapping[str, str]) -> tuple[products_file.ProductSpec, ...]:
    """The products file the gateway will read (``PRODUCTS_FILE``, else the shipped one)."""
    return products_file.load(environ.get("PRODUCTS_FILE") or products_file.DEFAULT_FILE)


def per_run_secrets(environ: Mapping[str, str]) -> list[str]:
    """Secrets shared by the gateway and a product (each linked product's SCIM token),
    generated per run unless the operator set them."""
    return [s.linked.scim_token_env for s in product_specs(environ) if s.linked is not None]


def demo_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """Fresh values for the per-run secrets missing from ``environ``: a value printed in the
    source tree would let anyone provision users in a demo left running. They keep the demo
    marker, so production still refuses them.

    The assertion signing key is the gateway's own: ``create_app`` generates a demo key
    (random, marked demo, refused in production) in ``instance/keys`` when there is none, and
    products fetch only the public JWKS."""
    return {
        name: DEMO_MARKER + secrets.token_urlsafe(24)
        for name in per_run_secrets(environ)
        if name not in environ
    }


def demo_environment() -> dict[str, str]:
    """Say ``APP_ENV=demo`` (apps default to production) and fill in the per-run secrets;
    returns the SCIM tokens, for printing."""
    os.environ.setdefault("APP_ENV", "demo")
    # The demo's support route: an address whose mail nobody reads (set your own).
    os.environ.setdefault("SUPPORT_EMAIL", "support@example.com")
    os.environ.update(demo_secrets(os.environ))
    return {name: os.environ[name] for name in per_run_secrets(os.environ)}


def edge_environment() -> None:
    """Settings for the stack behind an edge on this host: mail links and the assertion's
    issuer name the edge's address; the edge is the one trusted hop and the one caller of the
    forward-auth endpoints."""
    from config import edge as edge_config

    os.environ.setdefault("PUBLIC_URL", f"http://{HOST}:{EDGE_PORT}")
    for name, value in edge_config.GATEWAY_ENV.items():
        os.environ.setdefault(name, value)


def start_edge(kind: str, gateway_port: int, answers_port: int) -> subprocess.Popen[bytes]:
    """Run the edge configuration generated from the products file (for the shipped file:
    config/edge as shipped) from a temporary folder, in the foreground, and wait until it
    answers."""
    from config import edge as edge_config

    workdir = tempfile.mkdtemp(prefix=f"unified-login-{kind}-")
    run = edge_config.command(
        kind, workdir, product_specs(os.environ),
        listen=f"{HOST}:{EDGE_PORT}", gateway=f"{HOST}:{gateway_port}",
        answers=f"{HOST}:{answers_port}",
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


@dataclass
class DemoProduct:
    """A product of the products file that ``python app.py`` runs (its ``demo_app`` module)."""

    spec: products_file.ProductSpec
    module: ModuleType
    app: Any

    @property
    def port(self) -> int:
        return int(self.spec.upstream_address.rsplit(":", 1)[1])


def build_stack():  # type: ignore[no-untyped-def]
    """Create the gateway and the demo products, migrate their databases, load the demo data
    and record the demo links each product module names (``DEMO_LINKED``)."""
    from gateway import create_app as create_gateway
    from gateway import migrate
    from gateway.cli.demo import console_user_id, record_demo_link, seed_demo_users

    gateway_app = create_gateway()
    with gateway_app.app_context():
        migrate.upgrade(gateway_app.config["DATABASE_URL"])
        lines = seed_demo_users()
    demos = []
    for spec in product_specs(os.environ):
        if not spec.demo_app:
            continue
        module = importlib.import_module(spec.demo_app)
        demo = DemoProduct(spec, module, module.create_app())
        module.seed_demo_data(demo.app)
        for email in getattr(module, "DEMO_LINKED", ()):
            with gateway_app.app_context():
                console_id = console_user_id(email)
            product_user_id = module.link_user_for_demo(demo.app, email, console_id)
            with gateway_app.app_context():
                record_demo_link(email, spec.name, product_user_id)
        demos.append(demo)
    return gateway_app, demos, lines


def demo_product_lines(demos: list[DemoProduct]) -> list[str]:
    """Each demo product's own users and passwords (``DEMO_USERS``), for linking."""
    lines = []
    for demo in demos:
        linked = set(getattr(demo.module, "DEMO_LINKED", ()))
        users = [f"{email} {password}" for email, password, *_ in demo.module.DEMO_USERS
                 if email not in linked]
        users += [f"{email} is already linked" for email in sorted(linked)]
        lines.append(f"  {demo.spec.title:<9} " + " · ".join(users))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reset", action="store_true", help="delete the demo databases first")
    parser.add_argument(
        "--edge", choices=("nginx", "caddy"),
        help=f"put that edge proxy in front, public entry http://{HOST}:{EDGE_PORT}",
    )
    parser.add_argument("--port", type=int, default=GATEWAY_PORT,
                        help=f"the gateway's port (default {GATEWAY_PORT})")
    parser.add_argument("--answers-port", type=int, default=ANSWERS_PORT,
                        help=f"the answer server's port (forward-auth; default {ANSWERS_PORT})")
    args = parser.parse_args()
    os.chdir(ROOT)
    if args.edge:
        from config import edge as edge_config

        try:
            edge_config.binary(args.edge)
        except edge_config.EdgeMissing as exc:
            print(exc, file=sys.stderr)
            return 2
        edge_environment()
    # Products fetch the keys from this gateway, whatever port it was given.
    os.environ.setdefault("GATEWAY_INTERNAL_URL", f"http://{HOST}:{args.port}")
    if args.reset:
        shutil.rmtree(os.path.join(ROOT, "instance"), ignore_errors=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    tokens = demo_environment()
    gateway_app, demos, lines = build_stack()

    servers: list[BaseWSGIServer] = []
    apps = [("gateway", args.port, gateway_app)]
    apps += [(demo.spec.name, demo.port, demo.app) for demo in demos]
    for name, port, wsgi_app in apps:
        server = make_server(HOST, port, wsgi_app, threaded=True)
        servers.append(server)
        threading.Thread(target=server.serve_forever, name=name, daemon=True).start()

    from config.answer_worker import serve_in_thread
    from gateway.app import answer_server

    answers = serve_in_thread(answer_server(gateway_app), HOST, args.answers_port)
    edge = start_edge(args.edge, args.port, args.answers_port) if args.edge else None
    entry = EDGE_PORT if edge else args.port
    print(f"\nUnified Login is running: http://{HOST}:{entry}/")
    if edge:
        print(f"  (behind {args.edge} on :{EDGE_PORT}; the gateway on :{args.port}, its answer "
              f"server on :{args.answers_port} answers the edge's forward-auth requests)")
    else:
        print(f"  (forward-auth for an edge of your own: the answer server on "
              f":{args.answers_port}, /auth/nginx, /auth/forward, /auth/envoy/...)")
    for spec in product_specs(os.environ):
        print(f"  {spec.title:<9} http://{HOST}:{entry}{spec.prefix}/ "
              f"(upstream {spec.upstream_address})")
    print(f"  Mailbox   http://{HOST}:{entry}/dev/mailbox (demo mail lands here)")
    print("\nDemo Console users (email verified, 2FA off):")
    print("\n".join(lines))
    print("\nDemo product users (their own product passwords, for linking):")
    print("\n".join(demo_product_lines(demos)))
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
    answers.should_exit = True
    for server in servers:
        server.shutdown()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
