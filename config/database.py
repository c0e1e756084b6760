"""How every app (gateway, Segment, SendGrid) sets up its database: one engine recipe and one
constraint-naming convention, so schemas and migrations look alike on SQLite and PostgreSQL.

Lives in ``config`` because it is shared set-up, like the settings loader, and because the
products must not import the gateway.
"""

from __future__ import annotations

import os

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url

#: Constraint names Alembic can diff and drop on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def make_engine(url: str, *, wal: bool = False) -> Engine:
    """An engine for ``url``. SQLite gets its folder, foreign keys and a busy timeout (for
    several threads), and WAL when asked (the gateway: several processes read while one
    writes); other servers a checked, recycled connection pool."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(
            url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_recycle=1800
        )
    if parsed.database and parsed.database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        if wal:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    return engine
