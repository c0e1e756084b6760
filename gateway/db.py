"""Database engine and per-request SQLAlchemy session for the gateway.

One engine per app; one session per request (closed on teardown, which rolls back whatever
was not committed). Models live in ``gateway.models`` and share :class:`Base`, whose naming
convention keeps Alembic migrations stable across SQLite and PostgreSQL.

**One unit of work per request.** The request's session (:func:`db`) is committed once, by
the service that carries out the request's use case (``gateway.identity.signin``,
``gateway.identity.signup``, ``gateway.products.linking``, ...), at its end; views never
commit, and a GET commits nothing. A few writes must outlive the use case whatever its fate:
a counted failure (``gateway.identity.throttle``), the session's last-use stamp, the audit
row of a visit sent by a product's login page. Those go through :func:`own_transaction`, a
short transaction of their own, so a rolled-back request never undoes a counted failure.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

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


#: ``Session.info`` key marking a session of :func:`own_transaction`.
OWN_TRANSACTION = "own_transaction"


@contextmanager
def own_transaction() -> Iterator[Session]:
    """A short transaction of its own, committed on leaving the block, whatever becomes of
    the request's unit of work.

    Run it before the request's session writes anything: on SQLite the request's connection
    then holds the one write lock and a second connection would wait for it (itself); there
    the work joins the request's transaction instead (SQLite has one writer; the use case
    commits it), the same as before there were two. On PostgreSQL its rows must not be rows
    the request's transaction locked (throttle buckets are only ever written here, except
    a success clearing its own count, which comes after every failure of its request).
    """
    request_session = db()
    if _holds_sqlite_write_lock(request_session):
        yield request_session
        return
    session = new_session()
    session.info[OWN_TRANSACTION] = True
    try:
        yield session
        session.commit()
    finally:
        session.close()


def _holds_sqlite_write_lock(session: Session) -> bool:
    """Whether ``session`` is on SQLite and its driver began a write transaction (pysqlite
    begins one at the first INSERT/UPDATE/DELETE, none for reads)."""
    if session.get_bind().dialect.name != "sqlite" or not session.in_transaction():
        return False
    raw = session.connection().connection.dbapi_connection
    return bool(getattr(raw, "in_transaction", False))


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        session.close()
    except SQLAlchemyError:  # the server dropped the connection; the pool discards it
        session.invalidate()
