"""Shared fixtures for gateway tests: app on SQLite (or PostgreSQL via TEST_DATABASE_URL),
a client with CSRF switched on, and small action helpers (``actions.sign_in(...)``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from gateway import background
from tests.support import databases, exclusive
from tests.support.console import Actions, dispose_built_apps, make_gateway_app

# Apps default to production (demo secrets refused); every app and subprocess a test starts
# without saying otherwise runs as a test.
os.environ["APP_ENV"] = "test"

# Fixtures shared by several suites (a suite never imports another suite's conftest).
pytest_plugins = [
    "tests.support.proxy_gateway",
    "tests.support.product_servers",
    "tests.support.product_apps",
    "tests.support.cwe_marker",
    # pytest's own, for its ``pytester`` fixture (tests/test_cwe_marker.py runs pytest in
    # process); plugins can be required in this conftest only.
    "pytester",
]


#: Folders of processes on loopback (stacks, servers, CLI runs): seconds per test, not ms.
_SLOW_FOLDERS = ("tests/e2e/", "tests/edge/", "tests/multi/", "tests/faults/", "tests/keys/",
                 "tests/products/propagation/")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The slow files first: those driving Chromium, then the other end-to-end ones. Under
    ``-n 2 --dist loadfile`` a file runs whole on one worker; the longest (the accessibility
    crawl, minutes) handed out last left the other worker idle meanwhile. Whole files move,
    each in its own order, so a module-scoped stack still starts once."""
    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("browser"):
            return 0
        slow = item.get_closest_marker("e2e") or item.location[0].startswith(_SLOW_FOLDERS)
        return 1 if slow else 2

    file_rank: dict[str, int] = {}
    for item in items:
        file_rank[item.location[0]] = min(file_rank.get(item.location[0], 2), rank(item))
    items.sort(key=lambda item: file_rank[item.location[0]])


#: Tests each sent to a worker on its own, not with the rest of their file: the accessibility
#: crawl of one colour scheme takes minutes, the two schemes in one file made one worker's
#: share the critical path of the whole run. (Each worker then starts the file's stack.)
_SPLIT_FROM_THEIR_FILE = ("tests/e2e/test_accessibility.py::test_every_page_passes_axe_and",)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadfile``, except for :data:`_SPLIT_FROM_THEIR_FILE`."""
    from xdist.scheduler import LoadFileScheduling

    if config.getoption("dist") != "loadfile":
        return None

    class LoadFileSplittingLongTests(LoadFileScheduling):
        def _split_scope(self, nodeid: str) -> str:
            if nodeid.startswith(_SPLIT_FROM_THEIR_FILE):
                return nodeid
            return super()._split_scope(nodeid)

    return LoadFileSplittingLongTests(config, log)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[Any]:
    """Every test holds the cross-process test lock, shared; ``exclusive`` tests hold it alone
    (tests/support/exclusive.py)."""
    with exclusive.holding(item.get_closest_marker("exclusive") is not None):
        return (yield)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """When TEST_DATABASE_URL is set: this worker's own database, migrated once."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield None
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # gw0, gw1, ... under xdist
    with databases.postgres_worker_database(url, worker) as worker_url:
        yield worker_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The migrated SQLite schema this worker copies for each test."""
    return databases.sqlite_template(tmp_path_factory.mktemp("schema"))


@pytest.fixture
def database_url(tmp_path: Path, request: pytest.FixtureRequest,
                 postgres_url: str | None) -> str:
    """The test's gateway database, the once-migrated schema without a row: a copy of the
    SQLite template, or this worker's PostgreSQL database emptied (tests/support/databases.py)."""
    if postgres_url:
        databases.empty_postgres(postgres_url)
        return postgres_url
    return databases.sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    """Close the connection pools of every app a test built (no leaked connections), and stop
    every background worker a test's app started, however it was built: a worker left behind
    works on a database that is gone, and its compiling templates in a thread of its own while
    the next test compiles (CPython 3.11's ``compile`` is not safe across threads:
    "AST constructor recursion depth mismatch") broke an unrelated test."""
    yield
    _stop_apps()


def _stop_apps() -> None:
    dispose_built_apps()
    background.stop_all()


@pytest.fixture
def app(database_url: str) -> Flask:
    return make_gateway_app(database_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def actions(app: Flask, client: FlaskClient) -> Actions:
    return Actions(app, client)


