"""Internal endpoints for the gateway: credential check and linking (not SCIM).

Protected by the product's SCIM bearer token; the gateway never routes ``/internal/`` publicly.
The fault switch exists only in apps a test fixture built with
``ProductTestSwitches(fault_endpoint=True)`` (never from the environment).
"""

from __future__ import annotations

import hmac
import json
from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from product_stubs.kit.db import get_db
from product_stubs.kit.models import User
from product_stubs.kit.scim import bearer_ok, has_control
from product_stubs.kit.users import InvalidEmail, link, normalise_email, passwords, user_by_email

bp = Blueprint("internal", __name__, url_prefix="/internal")

SCIM_OPERATIONS = {"scim_post", "scim_get", "scim_list", "scim_put", "scim_patch", "scim_delete"}


class BadRequest(Exception):
    pass


def _json(status: int, **data: Any) -> Response:
    response = jsonify(data)
    response.status_code = status
    return response


@bp.errorhandler(BadRequest)
def _bad_request(exc: BadRequest) -> Response:
    return _json(400, error="invalid_request", detail=str(exc))


@bp.before_request
def _authenticate() -> Response | None:
    if not bearer_ok(current_app.config["SCIM_TOKEN"]):
        return _json(401, error="unauthorized")
    return None


def _body() -> dict[str, Any]:
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("body is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _string(data: dict[str, Any], key: str, limit: int) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > limit or has_control(value):
        raise BadRequest(f"{key} must be a non-empty string of at most {limit} characters")
    return value


def _user_json(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "external_id": user.external_id}


@bp.post("/link/verify")
def verify_credentials() -> Response:
    """Check a product user's email + password before linking (one generic failure)."""
    data = _body()
    password = data.get("password")
    if not isinstance(password, str):
        raise BadRequest("password must be a string")
    try:
        email = normalise_email(data.get("email"))
    except InvalidEmail:
        email = ""
    user = user_by_email(get_db(), email) if email else None
    usable = user is not None and user.active and user.external_id is None
    stored = user.password_hash if usable and user is not None else None
    if not passwords().verify(stored, password) or user is None:
        return _json(401, error="invalid_credentials")
    return _json(200, **_user_json(user))


@bp.post("/link")
def link_user() -> Response:
    """Link a product user to a Console user (idempotent for the same pair)."""
    data = _body()
    product_user_id = _string(data, "product_user_id", 64)
    console_user_id = _string(data, "console_user_id", 128)
    linked_by = _string(data, "linked_by_email", 254)
    db = get_db()
    user = db.get(User, product_user_id)
    if user is None:
        return _json(404, error="unknown_user")
    if user.external_id is not None:
        if hmac.compare_digest(user.external_id, console_user_id):
            return _json(200, **_user_json(user))
        return _json(409, error="already_linked")
    other = db.scalar(select(User).where(User.external_id == console_user_id))
    if other is not None:
        return _json(409, error="console_user_already_linked")
    try:
        with db.begin_nested():
            link(db, user, console_user_id, linked_by)
        db.commit()
    except IntegrityError:
        db.rollback()
        return _json(409, error="already_linked")
    return _json(200, **_user_json(user))


test_bp = Blueprint("internal_test", __name__, url_prefix="/internal/test")


@test_bp.before_request
def _authenticate_test() -> Response | None:
    return _authenticate()


@test_bp.post("/faults")
def set_faults() -> Response:
    """Make named SCIM operations fail (500) or slow, until reset with ``{"fail": []}``."""
    data = _body()
    fail = data.get("fail", [])
    delay = data.get("delay_seconds", 0)
    if not isinstance(fail, list) or not all(op in SCIM_OPERATIONS for op in fail):
        raise BadRequest(f"fail must list operations among {sorted(SCIM_OPERATIONS)}")
    if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 30:
        raise BadRequest("delay_seconds must be a number between 0 and 30")
    faults: dict[str, Any] = current_app.extensions["product_faults"]
    faults.clear()
    faults.update({"fail": list(fail), "delay_seconds": delay})
    return _json(200, fail=list(fail), delay_seconds=delay)


test_bp.register_error_handler(BadRequest, _bad_request)


def register(app: Flask, *, fault_endpoint: bool = False) -> None:
    app.register_blueprint(bp)
    if fault_endpoint:
        app.extensions["product_faults"] = {"fail": [], "delay_seconds": 0}
        app.register_blueprint(test_bp)
