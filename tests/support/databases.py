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
from collections.abc import Callable, Iterator
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


def create_postgres(base_url: str, *, prefix: str, template: str = "") -> str:
    """A new PostgreSQL database next to ``base_url`` (trust auth, loopback), empty or a copy
    of the database named ``template``: its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    copy = f' TEMPLATE "{template}"' if template else ""
    admin = _admin(base_url)
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    admin.dispose()
    return _url(base_url, name)


def drop_postgres(url: str) -> None:
    """Drop the database at ``url``, connections and all."""
    parsed = make_url(url)
    admin = _admin(parsed.set(database="postgres").render_as_string(hide_password=False))
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def postgres_database(base_url: str, *, prefix: str = "e2e", template: str = "") -> Iterator[str]:
    """A throw-away database (:func:`create_postgres`), dropped on exit."""
    url = create_postgres(base_url, prefix=prefix, template=template)
    try:
        yield url
    finally:
        drop_postgres(url)


@contextmanager
def postgres_worker_database(base_url: str, worker: str) -> Iterator[str]:
    """This worker's migrated database (its URL) for the session; dropped on exit."""
    with postgres_database(base_url, prefix=f"test_{worker}") as url:
        migrate.upgrade(url)
        yield url


_templates: dict[tuple[str, str], str] = {}


def postgres_template(base_url: str, kind: str, build: Callable[[str], None]) -> str:
    """The name of this process's template database of ``kind`` next to ``base_url``: made
    once, filled by ``build(url)`` (which must leave no connection open: a template with one
    cannot be copied), and dropped at exit."""
    if (base_url, kind) not in _templates:
        url = create_postgres(base_url, prefix=f"template_{kind}")
        atexit.register(drop_postgres, url)
        build(url)
        _templates[base_url, kind] = str(make_url(url).database)
    return _templates[base_url, kind]


@contextmanager
def migrated_postgres(base_url: str) -> Iterator[str]:
    """A throw-away PostgreSQL database already at the head of the migrations (a stack's).
    (``migrate.upgrade`` disposes of its engine: the template keeps no connection.)"""
    template = postgres_template(base_url, "gateway", migrate.upgrade)
    with postgres_database(base_url, template=template) as url:
        yield url


def snapshot_postgres(url: str) -> list[str]:
    """Keep a copy of the rows of every table of ``url`` (schema ``public``) in a schema
    ``snapshot``; returns the statements that put them back (:func:`restore_postgres`): every
    table emptied and refilled, and each serial sequence set past its largest id."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            tables = list(connection.execute(text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars())
            serials = connection.execute(text(
                "SELECT table_name, column_name,"
                " pg_get_serial_sequence(quote_ident(table_name), column_name)"
                " FROM information_schema.columns WHERE table_schema = 'public'"
                " AND column_default LIKE 'nextval(%'")).all()
            connection.exec_driver_sql("CREATE SCHEMA snapshot")
            for table in tables:
                connection.exec_driver_sql(
                    f'CREATE TABLE snapshot."{table}" AS TABLE public."{table}"')
    finally:
        engine.dispose()
    # Foreign keys are not checked while the rows go back (replica role: no triggers).
    statements = ["SET LOCAL session_replication_role = replica"]
    statements += [f'DELETE FROM public."{table}"' for table in tables]
    statements += [f'INSERT INTO public."{table}" SELECT * FROM snapshot."{table}"'
                   for table in tables]
    statements += [f"SELECT setval('{sequence}', COALESCE((SELECT max(\"{column}\")"
                   f' FROM public."{table}"), 0) + 1, false)'
                   for table, column, sequence in serials]
    return statements


def restore_postgres(url: str, statements: list[str]) -> None:
    """Run :func:`snapshot_postgres`'s statements on ``url``: one transaction."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("; ".join(statements))
    finally:
        engine.dispose()


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
