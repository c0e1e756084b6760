"""The whole stack as real processes on loopback ports, for end-to-end and fault tests.

``Stack`` starts the gateway and both products as separate processes (each its own database),
waits until they answer, and can stop and restart a product mid-test. When TEST_DATABASE_URL is
set, the gateway gets a fresh PostgreSQL database of its own for the stack's lifetime.
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
APPS = ("gateway", "segment", "sendgrid")


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


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """A throw-away PostgreSQL database next to ``base_url`` (trust auth, loopback)."""
    name = "e2e_" + uuid.uuid4().hex[:12]
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Stack:
    def __init__(self, workdir: str, gateway_database_url: str, **env: str) -> None:
        self.workdir = workdir
        self.ports = {name: free_port() for name in APPS}
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.gateway_url = f"http://127.0.0.1:{self.ports['gateway']}"
        self.tokens = {p: "test-" + secrets.token_urlsafe(16) for p in ("segment", "sendgrid")}
        self.keys = {p: "test-" + secrets.token_urlsafe(24) for p in ("segment", "sendgrid")}
        self.database_urls = {
            "gateway": gateway_database_url,
            "segment": f"sqlite:///{workdir}/segment.db",
            "sendgrid": f"sqlite:///{workdir}/sendgrid.db",
        }
        self.env = {
            **os.environ,
            "APP_ENV": "test",
            "PYTHONPATH": ROOT,
            "SECRET_KEY": "test-" + secrets.token_urlsafe(24),
            "DATABASE_URL": gateway_database_url,
            "PUBLIC_URL": self.gateway_url,
            "GATEWAY_PUBLIC_URL": self.gateway_url,
            "PASSWORD_HASH_FAST": "1",
            "UPSTREAM_READ_TIMEOUT": "3",
        }
        for product in ("segment", "sendgrid"):
            upper = product.upper()
            self.env |= {
                f"{upper}_UPSTREAM": self.url(product),
                f"{upper}_SCIM_TOKEN": self.tokens[product],
                f"{upper}_ASSERTION_KEYS": self.keys[product],
                f"{upper}_DATABASE_URL": self.database_urls[product],
                f"{upper}_SECRET_KEY": "test-" + secrets.token_urlsafe(24),
                f"{upper}_PASSWORD_HASH_FAST": "1",
            }
        self.env |= env

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def start(self, name: str) -> None:
        log = open(os.path.join(self.workdir, f"{name}.log"), "ab")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "tests.support.serve", name, str(self.ports[name])],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        log.close()
        wait_until_up(self.url(name) + "/healthz")

    def stop(self, name: str) -> None:
        process = self.processes.pop(name, None)
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def start_all(self) -> None:
        for name in ("segment", "sendgrid", "gateway"):
            self.start(name)

    def stop_all(self) -> None:
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

            if name == "gateway":
                from gateway import create_app

                return create_app()  # no migration: the running gateway did it
            return build(name)
        finally:
            os.environ.clear()
            os.environ.update(saved)


@contextmanager
def running_stack(workdir: str, **env: str) -> Iterator[Stack]:
    """Start the stack (gateway on PostgreSQL when TEST_DATABASE_URL is set) and stop it after."""
    base = os.environ.get("TEST_DATABASE_URL")
    if base:
        with postgres_database(base) as url:
            stack = Stack(workdir, url, **env)
            try:
                stack.start_all()
                yield stack
            finally:
                stack.stop_all()
        return
    stack = Stack(workdir, f"sqlite:///{workdir}/gateway.db", **env)
    try:
        stack.start_all()
        yield stack
    finally:
        stack.stop_all()
