"""The admin API, ``/admin/api/v1/...``: JSON over the services the console's pages call.

Every call carries a bearer token from ``POST /oauth/token`` (``gateway.admin.oauth``) whose
scope covers it (``people:read``, ``people:write``, ``audit:read``; else 403), and the client's
role (``api_clients.acting_as``) is asked about the action exactly as an operator's would be
(``interventions.allowed``; else 403 and nothing changed). The actions are the console's own
table (``gateway.admin.people.ACCOUNT_ACTIONS``); the audit filters are the audit page's.
Session cookies mean nothing here (no CSRF either: a cookie never authenticates a call).
Errors are JSON ``{"error": ..., "message": ...}``. ``openapi.json`` describes it all.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, stream_with_context
from werkzeug.exceptions import HTTPException

from gateway.admin import openapi
from gateway.admin.audit import FORMATS, filters_from
from gateway.admin.guard import require_allowed_network
from gateway.admin.oauth import presented_client, require_token
from gateway.admin.people import ACCOUNT_ACTIONS
from gateway.identity import api_clients, audit_log, interventions, people, policy, roles
from gateway.identity.audit import describe
from gateway.identity.interventions import NotAllowed, Refused, Sent, TooFast
from gateway.identity.roles import Action, Actor
from gateway.models import AuditEvent, User
from gateway.products.table import products
from gateway.web.csrf import csrf

bp = Blueprint("admin_api", __name__, url_prefix="/admin/api/v1")
csrf.exempt(bp)


@bp.before_request
def _network() -> None:
    require_allowed_network()


@bp.errorhandler(HTTPException)
def _json_error(error: HTTPException) -> Any:
    if error.description is None:  # Authlib's 401/403: its RFC 6750 body and WWW-Authenticate
        return error.get_response()
    answer = jsonify(error=(error.name or "error").lower().replace(" ", "_"),
                     message=error.description)
    answer.status_code = error.code or 500
    return answer


def _actor(action: Action) -> Actor:
    """The calling client as an actor, once its role allows ``action`` at all (else 403)."""
    actor = api_clients.acting_as(presented_client())
    if not roles.may(actor, action):
        abort(403, "The client's role does not allow this.")
    return actor


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _summary(user: User) -> dict[str, Any]:
    return {"id": user.id, "email": user.email, "verified": user.is_verified,
            "disabled": user.is_disabled, "role": user.role}


def _event(event: AuditEvent, titles: dict[str, str]) -> dict[str, Any]:
    return {"id": event.id, "created_at": _when(event.created_at), "event": event.event,
            "description": describe(event, titles), "target_id": event.user_id,
            "actor_id": event.actor_id, "ip_address": event.ip_address}


def _person(user_id: str) -> User:
    user = people.find(user_id)
    if user is None:
        abort(404, "No such person.")
    return user


@bp.route("/openapi.json")
def description() -> Response:
    return jsonify(openapi.DOCUMENT)


@bp.route("/people")
@require_token("people:read")
def search() -> Response:
    _actor(Action.READ)
    text = request.args.get("q", "")
    found = people.search(text) if text.strip() else []
    return jsonify(people=[_summary(user) for user in found])


@bp.route("/people/<user_id>")
@require_token("people:read")
def person(user_id: str) -> Response:
    _actor(Action.READ)
    profile = people.profile(_person(user_id))
    user, titles = profile.user, products().titles()
    return jsonify(
        _summary(user)
        | {
            "created_at": _when(user.created_at),
            "locked_until": _when(profile.locked_until),
            "second_factors": {"authenticator_app": profile.second_factors.authenticator_app,
                               "passkeys": profile.second_factors.passkeys,
                               "recovery_codes_left": profile.recovery_codes_left},
            "passkeys": [{"name": p.name, "last_used_at": _when(p.last_used_at)}
                         for p in user.passkeys],
            "sessions": [{"id": s.public_id, "created_at": _when(s.created_at),
                          "last_seen_at": _when(s.last_seen_at), "ip_address": s.ip_address}
                         for s in profile.sessions],
            "devices": [{"id": d.public_id, "name": d.name,
                         "last_used_at": _when(d.last_used_at)} for d in profile.devices],
            "links": [{"product": link.product, "product_user_id": link.product_user_id}
                      for link in profile.links],
            "events": [_event(e, titles) for e in profile.events],
        }
    )


@bp.route("/people/<user_id>/<action>", methods=["POST"])
@require_token("people:write")
def act(user_id: str, action: str) -> Response:
    if action not in ACCOUNT_ACTIONS:
        abort(404, "No such action.")
    kind, service, done = ACCOUNT_ACTIONS[action]
    actor = _actor(kind)
    target = _person(user_id)
    body = request.get_json(silent=True)
    reason = body.get("reason") if isinstance(body, dict) else None
    try:
        interventions.checked_reason(reason)
    except Refused as refused:
        abort(400, refused.message)
    try:
        result = service(actor, target, reason)
    except NotAllowed:
        abort(403, "The client's role does not allow this on this account.")
    except TooFast as fast:
        answer = jsonify(error="too_many_requests",
                         message="Too many actions this minute: nothing was changed.")
        answer.status_code = 429
        answer.headers["Retry-After"] = str(fast.retry_after)
        return answer
    except Refused as refused:
        abort(409, refused.message)
    return jsonify(action=action, done=done, mail_held_back=result is Sent.CAPPED)


@bp.route("/policy")
@require_token("people:read")
def read_policy() -> Response:
    """The sign-in policy, read-only: changing it needs an owner's fresh re-authentication,
    which a client credential cannot give (and clients are never owners)."""
    _actor(Action.READ)
    return jsonify(policy.current().as_dict())


@bp.route("/audit")
@require_token("audit:read")
def audit() -> Response:
    _actor(Action.READ_AUDIT)
    before = request.args.get("before", "")
    if before and not (before.isascii() and before.isdecimal() and int(before) < 2**31):
        abort(400, "before: an event id.")
    page = audit_log.page(filters_from(request.args), int(before) if before else None)
    titles = products().titles()
    return jsonify(events=[_event(e, titles) for e in page.events], next_before=page.next_before)


@bp.route("/audit/export")
@require_token("audit:read")
def export() -> Response:
    actor = _actor(Action.READ_AUDIT)
    kind = request.args.get("format", "jsonl")
    if kind not in FORMATS:
        abort(400, "format: csv or jsonl.")
    filters = filters_from(request.args)
    mimetype, lines = FORMATS[kind]
    audit_log.record_export(actor.id, kind, {k: v for k, v in request.args.items()
                                             if k in audit_log.FILTER_NAMES and v})

    def body() -> Iterator[str]:
        yield from lines(audit_log.stream(filters))

    return Response(stream_with_context(body()), mimetype=mimetype)
