"""The gateway's test databases: the schema is migrated once per test session (under xdist, once
per worker), and each test starts from it empty.

Why: building the schema for each of ~2,000 tests cost more than many of the tests themselves.

- SQLite: the schema is migrated once into a template file; a test's database is a copy of it
  (``shutil.copyfile``: a fraction of a millisecond).
- PostgreSQL (``TEST_DATABASE_URL``): each worker migrates its own database next to the ``test``
  database once (``test_gw0_<random>``: the worker's name, and a random part because other runs
  may share the server), and each test starts by emptying it: one transaction of ``DELETE``s
  (children first) and sequence resets, about 10 ms. Measured on this machine (fsync on),
  ``TRUNCATE`` of the 19 tables took 60-160 ms and ``CREATE DATABASE ... TEMPLATE`` plus its
  ``DROP`` 40-130 ms, since both create and sync files. No two workers share a database, so
  parallel workers (and parallel runs) never see each other's rows.

The stacks of processes (``tests/support/stack.py``) start from the same schema: a copy of this
process's template file, or on PostgreSQL ``CREATE DATABASE ... TEMPLATE`` of a migrated
template database (its own, since a template must have no connection): a gateway process
started on it finds the schema at head and migrates nothing, so its answer server and other
instances start beside it instead of after it.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from gateway import migrate
from gateway.db import Base


def sqlite_template(folder: Path) -> Path:
    """A migrated SQLite schema in ``folder`` (built once per session, never written after)."""
    template = folder / "gateway-template.db"
    migrate.upgrade(f"sqlite:///{template}")
    return template


@functools.cache
def sqlite_schema() -> Path:
    """This process's migrated SQLite template (tests and stacks copy it), removed at exit."""
    folder = Path(tempfile.mkdtemp(prefix="gateway-schema-"))
    atexit.register(shutil.rmtree, folder, True)
    return sqlite_template(folder)


def sqlite_copy(template: Path, folder: Path, name: str = "gateway.db") -> str:
    """A test's own database: a copy of the template file."""
    target = folder / name
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def _admin(base_url: str):  # type: ignore[no-untyped-def]
    # No pool: a connection kept from before a server restart (fault tests) would be dead.
    return create_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)


def _url(base_url: str, name: str) -> str:
    return make_url(base_url).set(database=name).render_as_string(hide_password=False)


@contextmanager
def postgres_database(base_url: str, *, prefix: str = "e2e", template: str = "") -> Iterator[str]:
    """A throw-away PostgreSQL database next to ``base_url`` (trust auth, loopback), empty or a
    copy of the database named ``template``, dropped (connections and all) on exit."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = _admin(base_url)
    copy = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield _url(base_url, name)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def postgres_worker_database(base_url: str, worker: str) -> Iterator[str]:
    """This worker's migrated database (its URL) for the session; dropped on exit."""
    with postgres_database(base_url, prefix=f"test_{worker}") as url:
        migrate.upgrade(url)
        yield url


@functools.cache
def _postgres_template(base_url: str) -> str:
    """The name of this process's migrated template database next to ``base_url``, made once
    and dropped at exit."""
    name = f"template_{uuid.uuid4().hex[:12]}"
    admin = _admin(base_url)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    atexit.register(_drop, base_url, name)
    migrate.upgrade(_url(base_url, name))  # its engine is disposed: no connection is left
    return name


def _drop(base_url: str, name: str) -> None:
    admin = _admin(base_url)
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def migrated_postgres(base_url: str) -> Iterator[str]:
    """A throw-away PostgreSQL database already at the head of the migrations (a stack's)."""
    with postgres_database(base_url, template=_postgres_template(base_url)) as url:
        yield url


def empty_postgres(url: str) -> None:
    """Delete every row of the gateway's tables (children first) and restart the sequences,
    in one transaction; the schema stays."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            sequences = connection.execute(
                text("SELECT quote_ident(schemaname) || '.' || quote_ident(sequencename)"
                     " FROM pg_sequences")
            ).scalars()
            statements = [f'DELETE FROM "{table.name}"'
                          for table in reversed(Base.metadata.sorted_tables)]
            statements += [f"SELECT setval('{name}', 1, false)" for name in sequences]
            connection.exec_driver_sql("; ".join(statements))
    finally:
        engine.dispose()
