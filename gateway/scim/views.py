"""The views of ``/scim/v2/``: SCIM 2.0 Users for the organizations' IdPs (RFC 7644), over
``gateway.organizations.provisioning``. Their blueprint, ``gateway.scim.api``, imports this
module on the first SCIM request (scim2-models is slow to import).

Each request carries one of an organization's tokens (``Authorization: Bearer scim_...``);
a missing, unknown or revoked one is a 401, before anything else is read. Bodies are read
with scim2-models in the context of their operation (creation, replacement, PATCH), so a
wrong ``schemas``, a wrong type or a read-only attribute is its SCIM error; every refusal,
from a malformed body to an unknown path, a wrong method or an oversized body (the
Console's form limit, ``MAX_FORM_MEMORY_SIZE``), is a SCIM error document with a 4xx, never
a page. No cookie authenticates here, so CSRF does not apply.

Status codes of the service's refusals: not found or another organization's id -> 404; an
owner turned off or removed -> 403; a value the rules refuse -> 400 ``invalidValue``; an
address taken or an account already provisioned -> 409 ``uniqueness``; a product that
could not be reached during an email change -> 503 with ``Retry-After`` (nothing changed:
IdPs retry a 503 later, and it is no fault of the request).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any

from flask import g, request
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    InvalidSyntaxException,
    InvalidValueException,
    ListResponse,
    NotFoundException,
    PatchOp,
    ResponseParameters,
    SCIMException,
    SearchRequest,
)
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from gateway.identity import throttle
from gateway.models import OrganizationMember, ScimToken, User
from gateway.organizations import provisioning, scim_tokens
from gateway.organizations.errors import NotAllowed, NotFound
from gateway.organizations.provisioning import Conflict, Invalid, Unavailable
from gateway.products import propagation
from gateway.scim import filters
from gateway.scim.resources import (
    MAX_RESULTS,
    POLICY,
    USER_SCHEMA,
    MemberUser,
    chosen_email,
    dump,
    location,
    of_member,
    service_provider_config,
    user_resource_type,
    user_schema,
    with_defaults,
)
from gateway.web.client import client_ip

SCIM_JSON = "application/scim+json"
RETRY_AFTER = 60
#: The throttle's name for requests with a missing, unknown or revoked token.
TOKEN_REFUSALS = "scim_token"
_MAX_INDEX = 2**31 - 1


def _answer(data: dict[str, Any] | None, status: int = 200,
            headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(data) if data is not None else ""
    answer = Response(body, status=status, headers=headers or {}, mimetype=SCIM_JSON)
    answer.headers["Cache-Control"] = "no-store"
    return answer


def _error(status: int, detail: str, scim_type: str | None = None,
           headers: dict[str, str] | None = None) -> Response:
    error = Error(status=status, scim_type=scim_type, detail=detail)
    return _answer(dump(error), status, headers)


def _answers_scim_refusals(view: Callable[..., Response]) -> Callable[..., Response]:
    """scim2-models' refusals, and pydantic's when a body is read, as their SCIM error
    documents. In the view, not in error handlers: the blueprint cannot name their classes
    without importing scim2-models."""

    @functools.wraps(view)
    def answered(**values: str) -> Response:
        try:
            return view(**values)
        except SCIMException as refusal:
            error = refusal.to_error()
        except ValidationError as refusal:
            error = Error.from_validation_errors(refusal)[0]
        return _answer(dump(error), error.status or 400)

    return answered


# --- the blueprint's error handlers and token check ------------------------------------------


def http_refusal(refusal: HTTPException) -> Response:
    status = refusal.code or 400
    headers = {name: value for name in ("Allow", "Retry-After")
               if (value := refusal.get_response().headers.get(name))}
    return _error(status, refusal.description or refusal.name, headers=headers)


def not_found(_refusal: NotFound) -> Response:
    return _error(404, "No such user.")


def not_allowed(_refusal: NotAllowed) -> Response:
    return _error(403, "An owner of the organization cannot be turned off or removed by the "
                       "identity provider: change their role in the Console first.")


def invalid(refusal: Invalid) -> Response:
    return _error(400, refusal.message, "invalidValue")


def conflict(refusal: Conflict) -> Response:
    return _error(409, refusal.message, "uniqueness")


def unavailable(refusal: Unavailable) -> Response:
    return _error(503, refusal.message, headers={"Retry-After": str(RETRY_AFTER)})


def authenticate() -> Response | None:
    """The organization's token, or the 401. Failed tokens are counted per client address
    (``throttle.refused_blocked``): past the bound a 429 with ``Retry-After`` answers before
    any token is looked up, so nobody guesses at the database's pace."""
    ip = client_ip()
    blocked = throttle.refused_blocked(TOKEN_REFUSALS, ip)
    if blocked is not None:
        return _error(429, "Too many requests with a wrong token from this address.",
                      headers={"Retry-After": str(blocked.retry_after)})
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    token = scim_tokens.presented(value.strip()) if scheme.lower() == "bearer" else None
    if token is None:
        throttle.count_refused(TOKEN_REFUSALS, ip)
        return _error(401, "A valid bearer token of the organization is required.",
                      headers={"WWW-Authenticate": 'Bearer realm="scim"'})
    g.scim_token = token
    return None


def _token() -> ScimToken:
    token: ScimToken = g.scim_token
    return token


def _only(*methods: str) -> None:
    if request.method not in methods:
        raise MethodNotAllowed(valid_methods=list(methods),
                               description="This method is not allowed here.")


def _body() -> dict[str, Any]:
    try:
        data = json.loads(request.get_data(cache=True) or b"null")
    except (ValueError, RecursionError):
        raise InvalidSyntaxException(detail="The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise InvalidSyntaxException(detail="The body must be a JSON object.")
    if not isinstance(data.get("schemas"), list):
        raise InvalidSyntaxException(detail="The body must list its schemas.")
    return data


def _read(model: Any, context: Context, data: dict[str, Any]) -> Any:
    try:
        return model.model_validate(data, scim_ctx=context, scim_policy=POLICY)
    except RecursionError:
        raise InvalidSyntaxException(detail="The body is nested too deeply.") from None


def _shaped(member: OrganizationMember, status: int = 200) -> Response:
    parameters = _read(ResponseParameters[MemberUser], Context.DEFAULT, dict(request.args))
    context = (Context.RESOURCE_CREATION_RESPONSE if status == 201
               else Context.RESOURCE_QUERY_RESPONSE)
    data = dump(of_member(member), context, response_parameters=parameters)
    headers = {"Location": location(member.public_id)} if status == 201 else None
    return _answer(data, status, headers)


def _address(resource: MemberUser) -> str | None:
    try:
        return chosen_email(resource)
    except ValueError as refusal:
        raise InvalidValueException(detail=str(refusal)) from None


def _change_email(user: User, new_email: str) -> None:
    """The saga of ``gateway.products.propagation``, its refusals as provisioning's."""
    try:
        propagation.change_now(user, new_email, by="organization")
    except propagation.EmailChangeError as refused:
        if refused.refusal is propagation.Refusal.UNAVAILABLE:
            raise Unavailable(refused.message) from None
        if refused.refusal is propagation.Refusal.CONFLICT:
            raise Conflict(refused.message) from None
        raise Invalid(refused.message) from None


# --- Users -----------------------------------------------------------------------------------


@_answers_scim_refusals
def users() -> Response:
    _only("GET", "POST")
    if request.method == "POST":
        return _create()
    return _list()


def _create() -> Response:
    data = _body()
    resource: MemberUser = _read(MemberUser, Context.RESOURCE_CREATION_REQUEST,
                                 with_defaults(data))
    member = provisioning.provision(_token(), _address(resource),
                                    active=resource.active is not False,
                                    external_id=resource.external_id)
    return _shaped(member, 201)


def _list() -> Response:
    asked = _read(SearchRequest[MemberUser], Context.DEFAULT, dict(request.args))
    criteria = (filters.criteria(str(asked.filter)) if asked.filter is not None
                else provisioning.Criteria())
    start = min(max(asked.start_index or 1, 1), _MAX_INDEX)
    count = min(max(asked.count if asked.count is not None else MAX_RESULTS, 0), MAX_RESULTS)
    total, members = provisioning.search(_token(), criteria, start, count)
    listed = ListResponse[MemberUser](total_results=total, start_index=start,
                                      items_per_page=len(members),
                                      resources=[of_member(m) for m in members])
    return _answer(dump(listed, Context.SEARCH_RESPONSE, response_parameters=asked))


@_answers_scim_refusals
def user(member_id: str) -> Response:
    _only("GET", "PUT", "PATCH", "DELETE")
    member = provisioning.get(_token(), member_id)
    if request.method == "GET":
        return _shaped(member)
    if request.method == "DELETE":
        provisioning.remove(_token(), member)
        return _answer(None, 204)
    if request.method == "PUT":
        return _replace(member)
    return _patch(member)


def _replace(member: OrganizationMember) -> Response:
    data = _body()
    given = _read(MemberUser, Context.RESOURCE_REPLACEMENT_REQUEST, with_defaults(data))
    # Decision: a PUT that leaves ``active`` out keeps it (it never turns an account on).
    updated = provisioning.update(
        _token(), member, _change_email, email=_address(given),
        active=given.active if data.get("active") is not None else None,
        external_id=given.external_id, external_id_given=True)
    return _shaped(updated)


def _patch(member: OrganizationMember) -> Response:
    operations = _read(PatchOp[MemberUser], Context.RESOURCE_PATCH_REQUEST, _body())
    before = of_member(member)
    after = of_member(member)
    operations.patch(after, scim_policy=POLICY)
    if after.user_name is None or not after.emails:
        raise InvalidValueException(detail="userName and emails cannot be removed.")
    if after.user_name != before.user_name:
        # The one address follows a new userName; emails changed with it must agree.
        email = after.user_name if after.emails == before.emails else _address(after)
    elif after.emails != before.emails:
        email = _address(MemberUser(emails=after.emails))
    else:
        email = None
    updated = provisioning.update(
        _token(), member, _change_email, email=email,
        active=after.active if after.active != before.active else None,
        external_id=after.external_id,
        external_id_given=after.external_id != before.external_id)
    return _shaped(updated)


@_answers_scim_refusals
def search() -> Response:
    """Searching with POST is not offered (``GET /Users?filter=``): RFC 7644 §3.12, 501."""
    _only("POST")
    return _error(501, "POST .search is not supported; use GET /Users with a filter.")


# --- discovery -------------------------------------------------------------------------------


def _listing(documents: list[dict[str, Any]]) -> Response:
    return _answer({"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                    "totalResults": len(documents), "startIndex": 1,
                    "itemsPerPage": len(documents), "Resources": documents})


def _get_only(view: Callable[..., Response]) -> Callable[..., Response]:
    @functools.wraps(view)
    def wrapped(**values: str) -> Response:
        _only("GET")
        return view(**values)

    return wrapped


@_answers_scim_refusals
@_get_only
def service_provider_config_view() -> Response:
    return _answer(service_provider_config())


@_answers_scim_refusals
@_get_only
def resource_types() -> Response:
    return _listing([user_resource_type()])


@_answers_scim_refusals
@_get_only
def resource_type(name: str) -> Response:
    if name != "User":
        raise NotFoundException(detail="No such resource type.")
    return _answer(user_resource_type())


@_answers_scim_refusals
@_get_only
def schemas() -> Response:
    return _listing([user_schema()])


@_answers_scim_refusals
@_get_only
def schema(schema_id: str) -> Response:
    if schema_id != USER_SCHEMA:
        raise NotFoundException(detail="No such schema.")
    return _answer(user_schema())


@_answers_scim_refusals
def unknown(_rest: str = "") -> Response:
    return _error(404, "There is no such SCIM endpoint.")
