"""Shared fixtures for gateway tests: app on SQLite (or PostgreSQL via TEST_DATABASE_URL),
a client with CSRF switched on, and small action helpers (``actions.login(...)``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from gateway import background
from gateway.db import Base
from tests.support.console import Actions, dispose_built_apps, make_app
from tests.support.stack import postgres_database

# Apps default to production (demo secrets refused); every app and subprocess a test starts
# without saying otherwise runs as a test.
os.environ["APP_ENV"] = "test"

# Fixtures shared by several suites (a suite never imports another suite's conftest).
pytest_plugins = [
    "tests.support.proxy_gateway",
    "tests.support.product_servers",
    "tests.support.product_apps",
    "tests.support.cwe_marker",
]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str | None]:
    """When TEST_DATABASE_URL is set, a throw-away database next to it for this test run
    (so parallel runs on one server never see each other's rows), schema created once."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield None
        return
    with postgres_database(url) as run_url:
        engine = create_engine(run_url)
        Base.metadata.create_all(engine)
        engine.dispose()
        yield run_url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    names = ", ".join(table.name for table in Base.metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture
def database_url(tmp_path: Any, postgres_url: str | None) -> Iterator[str]:
    if postgres_url:
        _truncate(postgres_url)
        yield postgres_url
        return
    url = f"sqlite:///{tmp_path}/gateway.db"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    yield url


@pytest.fixture(autouse=True)
def _dispose_engines() -> Iterator[None]:
    """Close the connection pools of every app a test built (no leaked connections), and stop
    every background worker a test's app started, however it was built: a worker left behind
    works on a database that is gone, and its compiling templates in a thread of its own while
    the next test compiles (CPython 3.11's ``compile`` is not safe across threads:
    "AST constructor recursion depth mismatch") broke an unrelated test."""
    yield
    dispose_built_apps()
    background.stop_all()


@pytest.fixture
def app(database_url: str) -> Flask:
    return make_app(database_url)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def actions(app: Flask, client: FlaskClient) -> Actions:
    return Actions(app, client)


