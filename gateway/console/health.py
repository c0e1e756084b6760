"""Liveness and readiness probes (answered whatever the User-Agent; no session needed)."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from gateway.db import db
from gateway.products.table import products, upstream_health

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz() -> Response:
    """The process is up and serving (no dependencies checked)."""
    return jsonify(status="ok")


@bp.route("/readyz")
def readyz() -> tuple[Response, int]:
    """Ready to serve: the database answers, and each product upstream answers."""
    checks = {"database": database_check()}
    checks.update(upstream_health(products()))
    ready = all(value == "ok" for value in checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503


def database_check() -> str:
    """"ok" when the database answers, else "unavailable" (the answer server's readiness too)."""
    try:
        db().execute(text("SELECT 1"))
        return "ok"
    except SQLAlchemyError:
        try:
            db().rollback()
        except SQLAlchemyError:
            db().invalidate()
        return "unavailable"
