"""One engine per product app and one SQLAlchemy session per request."""

from __future__ import annotations

import os

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.engine.url import make_url
from sqlalchemy.orm import Session, sessionmaker

from product_stubs.kit.models import Base


def make_engine(url: str) -> Engine:
    """Create the engine; SQLite gets its directory, foreign keys and a busy timeout."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        os.makedirs(os.path.dirname(os.path.abspath(parsed.database)), exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 15})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return engine


def init_db(app: Flask) -> None:
    """Bind an engine to ``app`` and create the schema.

    The products are stubs: ``create_all`` at start-up instead of migrations (see README).
    """
    engine = make_engine(app.config["DATABASE_URL"])
    Base.metadata.create_all(engine)
    app.extensions["product_db"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close)


def session_factory(app: Flask) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = app.extensions["product_db"]
    return factory


def get_db() -> Session:
    if "product_db" not in g:
        g.product_db = session_factory(current_app)()
    db: Session = g.product_db
    return db


def _close(_exc: BaseException | None) -> None:
    db = g.pop("product_db", None)
    if db is not None:
        db.close()
