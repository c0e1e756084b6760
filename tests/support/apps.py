"""Building and tearing down gateway apps in tests, through the gateway's typed accessors."""

from __future__ import annotations

from flask import Flask

from gateway import db as gateway_db
from gateway.products.table import products


def dispose(app: Flask) -> None:
    """Close the app's upstream pools and database connections (end of a test)."""
    products(app).close()
    gateway_db.engine(app).dispose()
