"""The whole stack as real processes on loopback ports, for end-to-end and fault tests.

``Stack`` starts the gateway and both products as separate processes (each its own database),
waits until they answer, and can stop and restart any of them mid-test. The gateway's database
is the test run's migrated schema, copied (``tests/support/databases.py``): a fresh SQLite file,
or with TEST_DATABASE_URL a fresh PostgreSQL database, for the stack's lifetime. So no process
waits for another to migrate: every process of the stack starts at once. (The operator's
``flask --app gateway db-upgrade`` is tested in ``tests/keys/test_commands.py`` and
``tests/console/test_operations.py``.)

``server="gunicorn"`` serves the gateway as deployed (``config/gunicorn_gateway.py``);
``gateways=2`` starts several gateway instances ("gateway", "gateway2", ...) on one shared
DATABASE_URL, as behind a load balancer. ``answers=True`` runs the first gateway instance's
answer server beside it ("answers": forward-auth on uvicorn; under gunicorn with
``config/gunicorn_answers.py`` when ``server="gunicorn"``), sharing its database and Prometheus
directory; the edge helpers start it and point forward-auth at it. Stacks without an edge do
without it: a process fewer to start for each of them.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.support.databases import migrated_postgres, sqlite_copy, sqlite_schema

#: The support route of every test stack.
SUPPORT_EMAIL = "help@support.example"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def stop_process(process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """SIGTERM, then SIGKILL when it has not ended within ``timeout`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url, timeout=1).status_code < 500:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


class Stack:
    def __init__(
        self,
        workdir: str,
        gateway_database_url: str,
        *,
        server: str = "werkzeug",
        gateways: int = 1,
        products: tuple[str, ...] = ("segment", "sendgrid"),
        answers: bool = False,
        **env: str,
    ) -> None:
        if server not in ("werkzeug", "gunicorn"):
            raise ValueError("server is werkzeug or gunicorn")
        self.workdir = workdir
        self.server = server
        #: Gateway instance names: "gateway", then "gateway2", "gateway3", ...
        self.gateways = ["gateway"] + [f"gateway{i}" for i in range(2, gateways + 1)]
        #: The product apps started as processes ("notes": the kit as a third product).
        self.products = products
        #: Every process of the stack, in the order they are started.
        self.names = (*products, *self.gateways, *(["answers"] if answers else []))
        self.ports = {name: free_port() for name in self.names}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._starts = 0
        #: The first gateway's Prometheus directory (gunicorn), shared with its answer server.
        self._metrics_dir = ""
        self.gateway_url = f"http://127.0.0.1:{self.ports['gateway']}"
        self.gateway_urls = [self.url(name) for name in self.gateways]
        self.tokens = {p: "test-" + secrets.token_urlsafe(16) for p in products}
        self.database_urls = {"gateway": gateway_database_url} | {
            p: f"sqlite:///{workdir}/{p}.db" for p in products
        }
        self.env = {
            **os.environ,
            "APP_ENV": "test",
            "PYTHONPATH": ROOT,
            "SECRET_KEY": "test-" + secrets.token_urlsafe(24),
            "DATABASE_URL": gateway_database_url,
            # One counter file per stack: its gateway processes share revocations at once.
            "SESSION_EPOCH_FILE": f"{workdir}/session-epoch",
            "PUBLIC_URL": self.gateway_url,
            "GATEWAY_PUBLIC_URL": self.gateway_url,
            # Products fetch the gateway's JWKS here (the first gateway instance).
            "GATEWAY_INTERNAL_URL": self.gateway_url,
            # Where the pages send people who lost their second factor (gateway/web/support.py).
            "SUPPORT_EMAIL": SUPPORT_EMAIL,
            "UPSTREAM_READ_TIMEOUT": "3",
            "PRODUCT_API_TIMEOUT": "2",
            # Never the demo's instance/keys: the first gateway creates a key here, and every
            # gateway instance shares it.
            "ASSERTION_KEY_DIR": os.path.join(workdir, "keys"),
            # gunicorn (server="gunicorn"): small, but several workers per instance.
            "WEB_CONCURRENCY": "2",
            "GATEWAY_THREADS": "8",
        }
        for product in products:
            upper = product.upper()
            self.env |= {
                f"{upper}_UPSTREAM": self.url(product),
                f"{upper}_SITE_URL": self.url(product),
                f"{upper}_SCIM_TOKEN": self.tokens[product],
                f"{upper}_DATABASE_URL": self.database_urls[product],
                f"{upper}_SECRET_KEY": "test-" + secrets.token_urlsafe(24),
            }
        self.env |= env

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def is_gateway(self, name: str) -> bool:
        return name in self.gateways

    def _command(self, name: str) -> list[str]:
        if name == "answers" and self.server == "gunicorn":
            return [
                sys.executable, "-m", "gunicorn", "-c", "config/gunicorn_answers.py",
                "--bind", f"127.0.0.1:{self.ports[name]}", "gateway:create_answer_app()",
            ]
        if self.is_gateway(name) and self.server == "gunicorn":
            return [
                sys.executable, "-m", "gunicorn", "-c", "config/gunicorn_gateway.py",
                "--bind", f"127.0.0.1:{self.ports[name]}", "gateway:create_app()",
            ]
        app = "gateway" if self.is_gateway(name) else name
        return [sys.executable, "-m", "tests.support.serve", app, str(self.ports[name])]

    def start(self, name: str, wait: bool = True) -> None:
        """Start one app (a gateway instance, its "answers" server, "segment" or "sendgrid")
        and wait for /healthz."""
        env = dict(self.env)
        if self.is_gateway(name) and self.server == "gunicorn":
            self._starts += 1
            metrics_dir = os.path.join(self.workdir, f"prometheus-{name}-{self._starts}")
            os.makedirs(metrics_dir)
            env["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
            if name == "gateway":
                self._metrics_dir = metrics_dir
        if name == "answers" and self._metrics_dir:
            env["PROMETHEUS_MULTIPROC_DIR"] = self._metrics_dir
            env["ANSWERS_WORKERS"] = "2"
        log = open(os.path.join(self.workdir, f"{name}.log"), "ab")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            self._command(name), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: gunicorn workers die with it
        )
        log.close()
        if wait:
            self.wait(name)

    def wait(self, name: str) -> None:
        """Wait for ``name``'s /healthz; stop it and show its log when it does not come up."""
        try:
            wait_until_up(self.url(name) + "/healthz")
        except RuntimeError:
            self.stop(name)
            raise RuntimeError(f"{name} did not come up:\n{self.log(name)[-3000:]}") from None

    def stop(self, name: str) -> None:
        """SIGTERM (gunicorn: graceful shutdown of every worker), SIGKILL after 10 s."""
        process = self.processes.pop(name, None)
        if process is None:
            return
        stop_process(process)
        try:  # a worker left behind by a killed master
            os.killpg(process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def start_all(self) -> None:
        self._start_together()

    def restart_all(self) -> None:
        """Stop every process, then start them all again (same ports, same databases)."""
        self.stop_all()
        self._start_together()

    def _start_together(self) -> None:
        """Every process starts at once: none needs another to start (the schema is at head
        already, and the first of them to need the signing key makes it, under the key
        directory's lock), and a start each after the other cost seconds per stack."""
        for name in self.names:
            self.start(name, wait=False)
        for name in self.names:
            self.wait(name)

    def stop_all(self) -> None:
        for process in self.processes.values():  # all at once: gunicorn shuts down gracefully
            process.terminate()
        for name in list(self.processes):
            self.stop(name)

    def log(self, name: str) -> str:
        path = os.path.join(self.workdir, f"{name}.log")
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def scim(self, product: str) -> requests.Session:
        """A client of a product's SCIM/internal API (what the gateway is allowed to call)."""
        session = requests.Session()
        session.trust_env = False
        session.headers["Authorization"] = f"Bearer {self.tokens[product]}"
        return session

    def app(self, name: str) -> Any:
        """An in-process app object on the same database (to seed or inspect data)."""
        saved = dict(os.environ)
        os.environ.update(self.env)
        try:
            from tests.support.serve import build
            from tests.support.switches import GATEWAY

            if name == "gateway":
                from gateway import create_app

                # No migration (the running gateway did it), no background thread.
                return create_app(switches=GATEWAY)
            return build(name)
        finally:
            os.environ.clear()
            os.environ.update(saved)


@contextmanager
def running_stack(
    workdir: str,
    *,
    server: str = "werkzeug",
    gateways: int = 1,
    products: tuple[str, ...] = ("segment", "sendgrid"),
    answers: bool = False,
    prepare: Callable[[Stack], None] | None = None,
    **env: str,
) -> Iterator[Stack]:
    """Start the stack (gateway on PostgreSQL when TEST_DATABASE_URL is set) and stop it after.

    ``prepare(stack)`` runs before anything starts (e.g. to put a faulty port in front of a
    product by changing ``stack.env``).
    """
    base = os.environ.get("TEST_DATABASE_URL")
    with ExitStack() as cleanup:
        url = (
            cleanup.enter_context(migrated_postgres(base))
            if base
            else sqlite_copy(sqlite_schema(), Path(workdir))
        )
        stack = Stack(workdir, url, server=server, gateways=gateways, products=products,
                      answers=answers, **env)
        try:
            if prepare is not None:
                prepare(stack)
            stack.start_all()
            yield stack
        finally:
            stack.stop_all()
