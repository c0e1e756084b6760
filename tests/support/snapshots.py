"""Evidence that a rejected request changed nothing and leaked nothing: database snapshots of
the gateway and a product, and a check that no stack trace reached the client."""

from __future__ import annotations

import hashlib

from flask import Flask
from sqlalchemy import Engine, MetaData, select

from gateway import db as gateway_db
from gateway.db import Base
from product_stubs.kit.db import session_factory
from product_stubs.kit.models import Base as ProductBase

#: Rows a rejected request must never touch. ``audit_events`` and ``throttle_buckets`` are left
#: out on purpose: recording a failed attempt there is the point of rejecting it.
GATEWAY_STATE = (
    "users",
    "recovery_codes",
    "login_sessions",
    "product_links",
    "used_tokens",
    "outbox_messages",
    "email_changes",
    "email_change_steps",
    "known_devices",
)


#: Stack-trace markers: never in a body, whatever the input.
TRACE_MARKERS = (
    "Traceback",
    'File "',
    "Error:",
    "Exception",
    "sqlalchemy",
    "psycopg",
    "werkzeug.exceptions",
)


def assert_no_trace(body: str) -> None:
    for marker in TRACE_MARKERS:
        assert marker not in body, f"{marker!r} in body: {body[:400]}"


def _snapshot(engine: Engine, metadata: MetaData, names: tuple[str, ...] | None) -> str:
    digest = hashlib.sha256()
    with engine.connect() as connection:
        for table in metadata.sorted_tables:
            if names is None or table.name in names:
                rows = connection.execute(select(table)).all()
                digest.update(f"{table.name}:{sorted(map(repr, rows))}".encode())
    return digest.hexdigest()


def gateway_snapshot(app: Flask) -> str:
    """A digest of every row of the gateway's state tables."""
    return _snapshot(gateway_db.engine(app), Base.metadata, GATEWAY_STATE)


def product_snapshot(app: Flask) -> str:
    """A digest of every row of every table of a product app."""
    return _snapshot(session_factory(app).kw["bind"], ProductBase.metadata, None)
