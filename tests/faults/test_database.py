"""PostgreSQL going away: restarted under load, and not there when the gateway starts.

Only with TEST_DATABASE_URL (PostgreSQL; CI sets it). The restart test also needs this machine's
own cluster (``pg_ctlcluster``) behind that URL: it stops and starts the real server, which
every other PostgreSQL user of the machine notices, so it waits for the server to accept
connections again before it finishes, whatever happened.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from tests.faults.test_products import assert_clear_page, person
from tests.support.faulty_port import FaultyPort
from tests.support.person import Person
from tests.support.stack import Stack, running_stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not os.environ.get("TEST_DATABASE_URL"),
        reason="database faults need PostgreSQL: set TEST_DATABASE_URL (CI does)",
    ),
]

PASSWORD = "a passphrase for bad days"


def wait_for(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def ready(base: str) -> bool:
    return requests.get(base + "/readyz", timeout=3).status_code == 200


# --- unavailable at start-up -----------------------------------------------------------------


@pytest.fixture
def database_port() -> Iterator[FaultyPort]:
    url = make_url(os.environ["TEST_DATABASE_URL"])
    port = FaultyPort(url.port or 5432, host=url.host or "127.0.0.1")
    try:
        yield port
    finally:
        port.close()


def test_database_unavailable_at_start_up(
    tmp_path: object, database_port: FaultyPort
) -> None:
    def through_the_faulty_port(stack: Stack) -> None:
        url = make_url(stack.env["DATABASE_URL"]).set(port=database_port.port)
        stack.env["DATABASE_URL"] = url.render_as_string(hide_password=False)

    with running_stack(str(tmp_path), server="gunicorn", prepare=through_the_faulty_port) as stack:
        someone = person(stack)  # confirmed and signed in before the outage
        stack.stop("gateway")
        database_port.set_mode("refuse")
        stack.start("gateway")  # starts without its database: /healthz answers
        base = stack.gateway_url
        assert requests.get(base + "/healthz", timeout=5).json() == {"status": "ok"}
        readiness = requests.get(base + "/readyz", timeout=5)
        assert readiness.status_code == 503
        assert readiness.json()["checks"]["database"] == "unavailable"
        page = someone.get("/settings", headers={"Accept": "text/html"})
        assert_clear_page(page, 503, "briefly unavailable")
        assert int(page.headers["Retry-After"]) > 0
        newcomer = Person(base, someone.email, PASSWORD).sign_in()
        assert_clear_page(newcomer, 503, "briefly unavailable")

        database_port.set_mode("forward")  # the database comes; nobody restarts the gateway
        wait_for(lambda: ready(base), 10, "/readyz after the database came back")
        assert someone.signed_in()
        assert someone.get("/segment/settings").status_code == 200
        assert Person(base, someone.email, PASSWORD).sign_in().status_code == 302


# --- restarted under load --------------------------------------------------------------------


def _cluster() -> list[str]:
    """``pg_ctlcluster`` arguments for this machine's cluster behind TEST_DATABASE_URL, or skip."""
    url = urlsplit(make_url(os.environ["TEST_DATABASE_URL"]).render_as_string())
    if url.hostname not in ("127.0.0.1", "localhost", "::1"):
        pytest.skip("TEST_DATABASE_URL is not a PostgreSQL on this machine")
    if not shutil.which("pg_ctlcluster") or not os.path.isdir("/etc/postgresql"):
        pytest.skip("pg_ctlcluster is not available to restart PostgreSQL")
    versions = sorted(os.listdir("/etc/postgresql"))
    if len(versions) != 1:
        pytest.skip("not exactly one PostgreSQL version installed")
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[0], "main"]
    status = subprocess.run([*command, "status"], capture_output=True, timeout=30)
    if status.returncode != 0:
        pytest.skip("pg_ctlcluster cannot see a running cluster here")
    return command


def _accepting_connections(url: str, timeout: float) -> None:
    engine = create_engine(url, poolclass=NullPool)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as connection:
                    connection.execute(text("SELECT 1"))
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
    finally:
        engine.dispose()


class Load:
    """A few browsers reading Console and proxied pages in a loop; every status is counted."""

    PATHS = ("/settings", "/segment/settings", "/readyz", "/")

    def __init__(self, clients: list[Person]) -> None:
        self.clients = clients
        self.stop = threading.Event()
        self.statuses: Counter[int] = Counter()
        self.bad: list[tuple[str, int, str]] = []
        self.threads = [threading.Thread(target=self._run, args=(c,)) for c in clients]

    def _run(self, client: Person) -> None:
        while not self.stop.is_set():
            for path in self.PATHS:
                try:
                    answer = client.get(path, headers={"Accept": "text/html"}, timeout=10)
                except requests.RequestException as exc:
                    self.bad.append((path, 0, exc.__class__.__name__))
                    continue
                self.statuses[answer.status_code] += 1
                if answer.status_code not in (200, 503) or "Traceback" in answer.text:
                    self.bad.append((path, answer.status_code, answer.text[:200]))
            time.sleep(0.02)

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=15)


@pytest.mark.exclusive  # stops the server every other test (and worker) is connected to
def test_postgresql_restarted_under_load(stack: Stack) -> None:
    command = _cluster()
    base = stack.gateway_url
    readers = [person(stack) for _ in range(3)]
    returning = person(stack, linked=False)  # confirmed before the outage, signs in after
    returning.sign_out()
    with Load(readers) as load:
        wait_for(lambda: load.statuses[200] >= 2 * len(readers), 15, "pages before the stop")
        try:
            subprocess.run([*command, "stop"], check=True, timeout=60)
            # While it is down: a clear 503 page, liveness still fine.
            wait_for(lambda: not ready(base), 15, "/readyz to see the database gone")
            wait_for(lambda: load.statuses[503] > 0, 15, "the readers to meet the outage")
            page = readers[0].get("/settings", headers={"Accept": "text/html"})
            assert_clear_page(page, 503, "briefly unavailable")
            assert requests.get(base + "/healthz", timeout=5).status_code == 200
            assert requests.get(base + "/readyz", timeout=5).status_code == 503
        finally:
            subprocess.run([*command, "start"], check=True, timeout=60)
            _accepting_connections(os.environ["TEST_DATABASE_URL"], timeout=60)
        wait_for(lambda: ready(base), 15, "/readyz after the restart")
        served = load.statuses[200]
        wait_for(lambda: load.statuses[200] >= served + 2 * len(readers), 15,
                 "pages served again after the restart")
    assert not load.bad, load.bad[:5]
    assert load.statuses[200] > 0 and load.statuses[503] > 0, load.statuses
    # Nothing confirmed before the restart is lost: sessions, accounts, links.
    for reader in readers:
        assert reader.signed_in()
        assert reader.get("/segment/settings").status_code == 200
    assert returning.sign_in().status_code == 302
    assert Person(base, f"after-{uuid.uuid4().hex[:6]}@example.com", PASSWORD).sign_up_and_verify()
