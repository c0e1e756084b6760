"""Fixtures for the security corpus and the fuzzers, reused from the other suites.

CSRF stays ON here (the gateway's test apps never switch it off). The proxy suite brings the
echo upstreams (``gateway``, ``signed_in``); the linking suite the real product apps
(``products``); the product suite its per-test product apps.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine, MetaData, select

from gateway import db
from gateway.db import Base
from gateway.products.table import products as product_table
from product_stubs.kit.db import session_factory
from product_stubs.kit.models import Base as ProductBase
from tests.conftest import make_app
from tests.linking.conftest import gateway_settings as linking_settings
from tests.linking.conftest import products  # noqa: F401 - fixture
from tests.products.conftest import _dispose_apps  # noqa: F401 - fixture
from tests.proxy.conftest import gateway, signed_in, upstreams  # noqa: F401 - fixtures

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
    return _snapshot(db.engine(app), Base.metadata, GATEWAY_STATE)


def product_snapshot(app: Flask) -> str:
    """A digest of every row of every table of a product app."""
    return _snapshot(session_factory(app).kw["bind"], ProductBase.metadata, None)


@pytest.fixture
def linked_gateway(
    database_url: str, products: dict[str, Any], tmp_path: Any  # noqa: F811
) -> Iterator[Flask]:
    """A gateway in front of the real Segment and SendGrid apps (linking over HTTP)."""
    settings = linking_settings(products, tmp_path) | {
        "LOGIN_MAX_FAILURES": 10_000,
        "IP_MAX_ATTEMPTS": 10_000,
    }
    app = make_app(database_url, **settings)
    yield app
    product_table(app).close()

