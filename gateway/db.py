"""Database engine and per-request SQLAlchemy session for the gateway.

One engine per app; one session per request (closed on teardown). Models live in
``gateway.models`` and share :class:`Base`, whose naming convention keeps Alembic
migrations stable across SQLite and PostgreSQL.
"""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy import MetaData
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from config.database import NAMING_CONVENTION, make_engine


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


_SESSIONS = "gateway.db"
_ENGINE = "gateway.engine"


def init_app(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"], wal=True)
    app.extensions[_SESSIONS] = sessionmaker(engine, expire_on_commit=False)
    app.extensions[_ENGINE] = engine
    app.teardown_appcontext(_close_session)


def engine(app: Flask | None = None) -> Engine:
    """The engine of ``app`` (default: the current app); tests dispose of it on teardown."""
    bound: Engine = (app or current_app).extensions[_ENGINE]
    return bound


def new_session() -> Session:
    """A session outside the request one (CLI, background repair, tests)."""
    return current_app.extensions[_SESSIONS]()


def db() -> Session:
    """The session of the current request."""
    if "db_session" not in g:
        g.db_session = new_session()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except SQLAlchemyError:  # the server dropped the connection; the pool discards it
        session.invalidate()
