"""One engine per product app and one SQLAlchemy session per request."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from config.database import make_engine
from product_stubs.kit.models import Base


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
