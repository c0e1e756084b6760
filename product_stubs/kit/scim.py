"""SCIM 2.0 provisioning API for Users (RFC 7643/7644) at ``/scim/v2/``.

``userName`` is the email (normalised, unique case-insensitively); ``externalId`` is the
Console user id the product user is linked to. Unknown attributes in POST/PUT bodies and in a
path-less PATCH value are ignored (not stored, not echoed); an unknown PATCH ``path`` is a 400
``invalidPath``. Changing or clearing a set ``externalId`` is refused (``mutability``): linking
is one product user to exactly one Console user.

The published schema says what the store can hold: ``externalId`` is ``immutable`` (it may be
set once); ``emails`` and ``active`` are ``required`` because a product user always has exactly
one address (its ``userName``) and an active state, so a PATCH ``remove`` of either is a 400
``mutability`` (RFC 7644 §3.5.2); an omitted value on POST/PUT still takes its default (the
``userName``, ``true``). The one address is stored as ``value`` and ``type`` ``work`` only: a
``primary`` flag sent by a client is checked (at most one) but not stored, so it is neither
echoed nor published. ``attributes``/``excludedAttributes`` (RFC 7644 §3.9) shape every User
returned; ``POST /.search`` is not offered and answers 501.
"""

from __future__ import annotations

import hmac
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, current_app, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from product_stubs.kit.db import get_db
from product_stubs.kit.models import User
from product_stubs.kit.users import (
    InvalidEmail,
    create_user_with_container,
    end_sessions,
    link,
    normalise_email,
    record_console_creation,
    touch,
    user_by_email,
)

bp = Blueprint("scim", __name__, url_prefix="/scim/v2")

SCIM_JSON = "application/scim+json"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SPC_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
RT_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
SCHEMA_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Schema"
MAX_RESULTS = 200
MAX_OPERATIONS = 20
MAX_EXTERNAL_ID = 128

_FILTER = re.compile(r'^\s*(userName|externalId)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)
_EMAILS_VALUE_PATH = re.compile(r'^emails\[\s*type\s+eq\s+"work"\s*\]\.value$', re.IGNORECASE)
#: Control characters (NUL above all: PostgreSQL refuses it in text) never reach a query.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Bound for integer query parameters (a database cannot OFFSET by a 30-digit number).
MAX_INDEX = 2**31 - 1


class ScimError(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


def scim_response(
    data: dict[str, Any] | None, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    body = json.dumps(data) if data is not None else ""
    return Response(body, status=status, headers=headers or {}, mimetype=SCIM_JSON)


def error_response(status: int, detail: str, scim_type: str | None = None) -> Response:
    data: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(status), "detail": detail}
    if scim_type:
        data["scimType"] = scim_type
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return scim_response(data, status, headers)


@bp.errorhandler(ScimError)
def _scim_error(exc: ScimError) -> Response:
    return error_response(exc.status, exc.detail, exc.scim_type)


def bearer_ok(expected: str) -> bool:
    """Constant-time check of ``Authorization: Bearer <token>``."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not expected:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


@bp.before_request
def _authenticate() -> None:
    if not bearer_ok(current_app.config["SCIM_TOKEN"]):
        raise ScimError(401, "A valid bearer token is required.")


def fault(operation: str) -> None:
    """Test-mode fault injection (see ``internal.faults``); a no-op in other modes."""
    faults: dict[str, Any] | None = current_app.extensions.get("product_faults")
    if not faults:
        return
    if faults.get("delay_seconds"):
        time.sleep(float(faults["delay_seconds"]))
    if operation in faults.get("fail", ()):
        raise ScimError(500, f"Injected fault in {operation}.")


# --- representation -------------------------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.replace(tzinfo=UTC).isoformat().replace("+00:00", "Z")


def etag(user: User) -> str:
    return f'W/"{user.version}"'


def to_scim(user: User) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schemas": [USER_SCHEMA],
        "id": user.id,
        "userName": user.email,
        "active": user.active,
        "emails": [{"value": user.email, "type": "work"}],
        "meta": {
            "resourceType": "User",
            "created": _iso(user.created_at),
            "lastModified": _iso(user.updated_at),
            "location": url_for("scim.get_user", user_id=user.id, _external=True),
            "version": etag(user),
        },
    }
    if user.external_id is not None:
        data["externalId"] = user.external_id
    return data


#: Returned whatever ``attributes``/``excludedAttributes`` say (``returned: always``).
_ALWAYS = {"schemas", "id"}


def _attribute_names(name: str) -> list[tuple[str, str | None]] | None:
    """``(attribute, sub-attribute)`` pairs (lower case) of a comma list, or None if absent."""
    raw = request.args.get(name)
    if raw is None:
        return None
    pairs: list[tuple[str, str | None]] = []
    for item in raw.split(",")[:50]:
        item = item.strip().lower()
        prefix = USER_SCHEMA.lower() + ":"
        if item.startswith(prefix):
            item = item[len(prefix) :]
        attribute, _, sub = item.partition(".")
        if attribute:
            pairs.append((attribute, sub or None))
    return pairs


def shape(data: dict[str, Any]) -> dict[str, Any]:
    """Apply the request's ``attributes`` or ``excludedAttributes`` (RFC 7644 §3.9)."""
    wanted = _attribute_names("attributes")
    excluded = _attribute_names("excludedAttributes")
    if wanted is not None and excluded is not None:
        raise ScimError(
            400, "attributes and excludedAttributes are mutually exclusive.", "invalidValue"
        )
    if wanted is None and excluded is None:
        return data
    shaped: dict[str, Any] = {}
    for key, value in data.items():
        lowered = key.lower()
        if lowered in _ALWAYS:
            shaped[key] = value
            continue
        if wanted is not None:
            subs = {sub for name, sub in wanted if name == lowered}
            if not subs:
                continue
            shaped[key] = value if None in subs else _keep_subs(value, subs, keep=True)
        else:
            assert excluded is not None
            subs = {sub for name, sub in excluded if name == lowered}
            if None in subs:
                continue
            shaped[key] = _keep_subs(value, subs, keep=False) if subs else value
    return shaped


def _keep_subs(value: Any, subs: set[str | None], keep: bool) -> Any:
    """Keep (or drop) the named sub-attributes of a complex value or a list of them."""
    if isinstance(value, list):
        return [_keep_subs(item, subs, keep) for item in value]
    if not isinstance(value, dict):
        return value
    return {k: v for k, v in value.items() if (k.lower() in subs) == keep}


def user_response(user: User, status: int = 200) -> Response:
    data = to_scim(user)
    headers = {"ETag": etag(user)}
    if status == 201:
        headers["Location"] = data["meta"]["location"]
    return scim_response(shape(data), status, headers)


# --- input ----------------------------------------------------------------------------------


def has_control(value: str) -> bool:
    return _CONTROL.search(value) is not None


def json_body() -> dict[str, Any]:
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ScimError(400, "The body is not valid JSON.", "invalidSyntax") from None
    if not isinstance(data, dict):
        raise ScimError(400, "The body must be a JSON object.", "invalidSyntax")
    return data


def _require_schema(data: dict[str, Any], schema: str) -> None:
    schemas = data.get("schemas")
    if not isinstance(schemas, list) or schema not in schemas:
        raise ScimError(400, f"'schemas' must list {schema}.", "invalidSyntax")


def _email(value: object) -> str:
    try:
        return normalise_email(value)
    except InvalidEmail:
        raise ScimError(400, "userName must be a valid email address.", "invalidValue") from None


def _emails(value: object) -> str:
    """The primary (or only) address of a SCIM ``emails`` list."""
    if not isinstance(value, list) or not value or len(value) > 10:
        raise ScimError(400, "emails must be a non-empty list.", "invalidValue")
    if not all(isinstance(item, dict) for item in value):
        raise ScimError(400, "emails must be a list of objects.", "invalidValue")
    primaries = [item for item in value if item.get("primary") is True]
    if len(primaries) > 1:
        raise ScimError(400, "Only one email may be primary.", "invalidValue")
    return _email((primaries or value)[0].get("value"))


def _active(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "false"}:
        return value.lower() == "true"  # some clients send booleans as strings in PATCH
    raise ScimError(400, "active must be a boolean.", "invalidValue")


def _external_id(value: object) -> str | None:
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_EXTERNAL_ID
        or has_control(value)
    ):
        raise ScimError(400, "externalId must be a non-empty string.", "invalidValue")
    return value


@dataclass
class Changes:
    email: str | None = None
    active: bool | None = None
    external_id: str | None = None
    external_id_given: bool = False

    def set_email(self, email: str) -> None:
        if self.email is not None and self.email != email:
            raise ScimError(400, "userName and the primary email must match.", "invalidValue")
        self.email = email


def changes_from_resource(data: dict[str, Any]) -> Changes:
    """Attributes of a POST/PUT body (readOnly ``id``/``meta`` and unknown ones ignored)."""
    _require_schema(data, USER_SCHEMA)
    if "userName" not in data:
        raise ScimError(400, "userName is required.", "invalidValue")
    changes = Changes()
    changes.set_email(_email(data["userName"]))
    if "emails" in data and data["emails"] is not None:
        changes.set_email(_emails(data["emails"]))
    if "active" in data:
        changes.active = _active(data["active"])
    if "externalId" in data:
        changes.external_id = _external_id(data["externalId"])
        changes.external_id_given = changes.external_id is not None
    return changes


def _patch_remove(changes: Changes, path: str) -> None:
    """``remove``: only an unset ``externalId`` may be "removed" (a no-op); see the docstring."""
    lowered = path.lower()
    if lowered == "externalid":
        changes.external_id = None
        changes.external_id_given = True  # refused in apply_changes when one is set
    elif lowered in {"username", "emails", "active"} or lowered.startswith("emails["):
        raise ScimError(400, f"{path[:100]} is required and cannot be removed.", "mutability")
    else:
        raise ScimError(400, f"Unsupported path: {path[:100]}", "invalidPath")


def _patch_attribute(changes: Changes, path: str, value: object) -> None:
    lowered = path.lower()
    if lowered == "username":
        changes.set_email(_email(value))
    elif lowered == "emails":
        changes.set_email(_emails(value))
    elif _EMAILS_VALUE_PATH.match(path):
        changes.set_email(_email(value))
    elif lowered == "active":
        changes.active = _active(value)
    elif lowered == "externalid":
        changes.external_id = _external_id(value)
        changes.external_id_given = True
    else:
        raise ScimError(400, f"Unsupported path: {path[:100]}", "invalidPath")


def changes_from_patch(data: dict[str, Any]) -> Changes:
    _require_schema(data, PATCH_SCHEMA)
    operations = data.get("Operations")
    if not isinstance(operations, list) or not operations or len(operations) > MAX_OPERATIONS:
        raise ScimError(400, "Operations must be a non-empty list.", "invalidSyntax")
    changes = Changes()
    for operation in operations:
        if not isinstance(operation, dict) or not isinstance(operation.get("op"), str):
            raise ScimError(400, "Each operation needs an 'op'.", "invalidSyntax")
        op = operation["op"].lower()
        if op not in {"replace", "add", "remove"}:
            raise ScimError(400, f"Unsupported op: {op[:20]}", "invalidValue")
        path = operation.get("path")
        value = operation.get("value")
        if op == "remove":
            if path is None:
                raise ScimError(400, "A remove operation needs a path.", "noTarget")
            if not isinstance(path, str) or len(path) > 200:
                raise ScimError(400, "path must be a string.", "invalidPath")
            _patch_remove(changes, path)
        elif path is None:
            if not isinstance(value, dict):
                raise ScimError(400, "A path-less operation needs an object value.", "invalidValue")
            known = {k: v for k, v in value.items() if isinstance(k, str) and _is_known(k)}
            for key, item in known.items():
                _patch_attribute(changes, key, item)
        elif isinstance(path, str) and len(path) <= 200:
            _patch_attribute(changes, path, value)
        else:
            raise ScimError(400, "path must be a string.", "invalidPath")
    return changes


def _is_known(key: str) -> bool:
    return key.lower() in {"username", "emails", "active", "externalid"} or bool(
        _EMAILS_VALUE_PATH.match(key)
    )


def check_if_match(user: User) -> None:
    header = request.headers.get("If-Match")
    if header is None or header.strip() == "*":
        return
    wanted = {tag.strip().removeprefix("W/") for tag in header.split(",")}
    if etag(user).removeprefix("W/") not in wanted:
        raise ScimError(412, "The resource has changed (ETag mismatch).")


def _uniqueness(db: Session, user: User | None, changes: Changes) -> None:
    if changes.email is not None:
        other = user_by_email(db, changes.email)
        if other is not None and (user is None or other.id != user.id):
            raise ScimError(409, "This email address is already in use.", "uniqueness")
    if changes.external_id is not None:
        other = db.scalar(select(User).where(User.external_id == changes.external_id))
        if other is not None and (user is None or other.id != user.id):
            raise ScimError(409, "This externalId is already linked.", "uniqueness")


def apply_changes(db: Session, user: User, changes: Changes) -> None:
    """Apply validated changes to an existing user and commit (409 on a uniqueness race)."""
    _uniqueness(db, user, changes)
    if changes.external_id_given and changes.external_id != user.external_id:
        if user.external_id is not None:
            raise ScimError(400, "externalId cannot be changed once set.", "mutability")
    try:
        with db.begin_nested():
            if changes.email is not None and changes.email != user.email:
                user.email = changes.email
            if changes.active is not None and changes.active != user.active:
                user.active = changes.active
                if not user.active:
                    end_sessions(db, user.id)
            if changes.external_id is not None and user.external_id is None:
                link(db, user, changes.external_id, "provisioning API")
            touch(user)
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ScimError(409, "This email address is already in use.", "uniqueness") from None


def _get(db: Session, user_id: str) -> User:
    user = None if has_control(user_id) else db.get(User, user_id[:64])
    if user is None:
        raise ScimError(404, "User not found.")
    return user


# --- Users ----------------------------------------------------------------------------------


@bp.post("/Users")
def create_user() -> Response:
    fault("scim_post")
    changes = changes_from_resource(json_body())
    assert changes.email is not None
    db = get_db()
    _uniqueness(db, None, changes)
    try:
        with db.begin_nested():
            user = create_user_with_container(
                db,
                changes.email,
                password=None,
                container_name=changes.email,
                created_by_console=True,
                external_id=changes.external_id,
            )
            if changes.active is False:
                user.active = False
            if changes.external_id is not None:
                record_console_creation(db, user)
        db.commit()
    except IntegrityError:
        db.rollback()
        raise ScimError(409, "This email address is already in use.", "uniqueness") from None
    return user_response(user, 201)


@bp.get("/Users/<user_id>")
def get_user(user_id: str) -> Response:
    fault("scim_get")
    return user_response(_get(get_db(), user_id))


def _int_param(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        return max(-MAX_INDEX, min(MAX_INDEX, int(raw)))
    except ValueError:
        raise ScimError(400, f"{name} must be an integer.", "invalidValue") from None


@bp.get("/Users")
def list_users() -> Response:
    fault("scim_list")
    start = max(1, _int_param("startIndex", 1))
    count = min(max(0, _int_param("count", 100)), MAX_RESULTS)
    query = select(User)
    raw_filter = request.args.get("filter")
    if raw_filter is not None:
        usable = len(raw_filter) < 600 and not has_control(raw_filter)
        match = _FILTER.match(raw_filter) if usable else None
        if match is None:
            raise ScimError(
                400,
                'Only userName eq "..." and externalId eq "..." are supported.',
                "invalidFilter",
            )
        value = re.sub(r"\\(.)", r"\1", match.group(2))
        if match.group(1).lower() == "username":
            query = query.where(func.lower(User.email) == value.strip().lower())
        else:
            query = query.where(User.external_id == value)
    db = get_db()
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    users = db.scalars(
        query.order_by(User.created_at, User.id).offset(start - 1).limit(count)
    ).all()
    data = {
        "schemas": [LIST_SCHEMA],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(users),
        "Resources": [shape(to_scim(user)) for user in users],
    }
    return scim_response(data)


@bp.post("/.search")
@bp.post("/Users/.search")
def search() -> Response:
    """Searching with POST is not offered (use ``GET /Users?filter=``): RFC 7644 §3.12 501."""
    raise ScimError(501, "POST .search is not supported; use GET /Users with a filter.")


@bp.put("/Users/<user_id>")
def replace_user(user_id: str) -> Response:
    fault("scim_put")
    db = get_db()
    user = _get(db, user_id)
    check_if_match(user)
    changes = changes_from_resource(json_body())
    if changes.active is None:
        changes.active = True  # PUT replaces: an omitted "active" takes its default
    apply_changes(db, user, changes)
    return user_response(user)


@bp.patch("/Users/<user_id>")
def patch_user(user_id: str) -> Response:
    fault("scim_patch")
    db = get_db()
    user = _get(db, user_id)
    check_if_match(user)
    apply_changes(db, user, changes_from_patch(json_body()))
    return user_response(user)


@bp.delete("/Users/<user_id>")
def delete_user(user_id: str) -> Response:
    fault("scim_delete")
    db = get_db()
    user = _get(db, user_id)
    check_if_match(user)
    db.delete(user)
    db.commit()
    return scim_response(None, 204)


# --- discovery ------------------------------------------------------------------------------


@bp.get("/ServiceProviderConfig")
def service_provider_config() -> Response:
    return scim_response(
        {
            "schemas": [SPC_SCHEMA],
            "patch": {"supported": True},
            "bulk": {"supported": False, "maxOperations": 0, "maxPayloadSize": 0},
            "filter": {"supported": True, "maxResults": MAX_RESULTS},
            "changePassword": {"supported": False},
            "sort": {"supported": False},
            "etag": {"supported": True},
            "authenticationSchemes": [
                {
                    "type": "oauthbearertoken",
                    "name": "Bearer token",
                    "description": "Per-product static bearer token (<PRODUCT>_SCIM_TOKEN).",
                    "primary": True,
                }
            ],
            "meta": {
                "resourceType": "ServiceProviderConfig",
                "location": url_for("scim.service_provider_config", _external=True),
            },
        }
    )


def _user_resource_type() -> dict[str, Any]:
    return {
        "schemas": [RT_SCHEMA],
        "id": "User",
        "name": "User",
        "endpoint": "/Users",
        "description": "User account",
        "schema": USER_SCHEMA,
        "schemaExtensions": [],
        "meta": {
            "resourceType": "ResourceType",
            "location": url_for("scim.resource_type", name="User", _external=True),
        },
    }


def _attribute(name: str, type_: str, **extra: Any) -> dict[str, Any]:
    data = {
        "name": name,
        "type": type_,
        "multiValued": False,
        "description": name,
        "required": False,
        "caseExact": False,
        "mutability": "readWrite",
        "returned": "default",
        "uniqueness": "none",
    }
    data.update(extra)
    return data


def _user_schema() -> dict[str, Any]:
    email_parts = [
        _attribute("value", "string", required=True),
        _attribute("type", "string", canonicalValues=["work"]),
    ]
    return {
        "schemas": [SCHEMA_SCHEMA],
        "id": USER_SCHEMA,
        "name": "User",
        "description": "User account (userName is the email address)",
        "attributes": [
            _attribute("userName", "string", required=True, uniqueness="server"),
            _attribute(
                "externalId", "string", caseExact=True, mutability="immutable", uniqueness="server"
            ),
            _attribute(
                "emails", "complex", multiValued=True, required=True, subAttributes=email_parts
            ),
            _attribute("active", "boolean", required=True),
        ],
        "meta": {
            "resourceType": "Schema",
            "location": url_for("scim.schema", schema_id=USER_SCHEMA, _external=True),
        },
    }


def _list(resources: list[dict[str, Any]]) -> Response:
    return scim_response(
        {
            "schemas": [LIST_SCHEMA],
            "totalResults": len(resources),
            "startIndex": 1,
            "itemsPerPage": len(resources),
            "Resources": resources,
        }
    )


@bp.get("/ResourceTypes")
def resource_types() -> Response:
    return _list([_user_resource_type()])


@bp.get("/ResourceTypes/<name>")
def resource_type(name: str) -> Response:
    if name != "User":
        raise ScimError(404, "Resource type not found.")
    return scim_response(_user_resource_type())


@bp.get("/Schemas")
def schemas() -> Response:
    return _list([_user_schema()])


@bp.get("/Schemas/<schema_id>")
def schema(schema_id: str) -> Response:
    if schema_id != USER_SCHEMA:
        raise ScimError(404, "Schema not found.")
    return scim_response(_user_schema())
