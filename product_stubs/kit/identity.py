"""Who is making this request: the gateway's assertion, else the product's own session.

Rules (see README "For product backend developers"):
- an ``X-Identity-Assertion`` header, when present, must verify and name an active product user
  linked to the asserted Console user; otherwise 401, never a fall back to the cookie session;
- without the header, the product's own server-side session, only for unlinked password users;
- no identity: browsers go to the login page, API clients get 401 JSON.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Response, current_app, g, jsonify, redirect, render_template, request, session
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway.assertion import HEADER, AssertionVerifier, Identity, InvalidAssertion
from product_stubs.kit.db import get_db
from product_stubs.kit.forwarding import VERIFIED
from product_stubs.kit.models import ProductSession, SignIn, User, utcnow
from product_stubs.kit.profile import ProductProfile
from product_stubs.kit.urls import login_url

#: Blueprints that authenticate by bearer token, not by user identity.
API_BLUEPRINTS = {"scim", "internal", "internal_test"}


def profile() -> ProductProfile:
    prof: ProductProfile = current_app.extensions["product_profile"]
    return prof


def wants_html() -> bool:
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html"


def unauthorized(reason: str) -> Response:
    if wants_html():
        body = render_template("kit/error.html", code=401, message="You are not signed in.")
        return Response(body, status=401, mimetype="text/html")
    response = jsonify(error=reason)
    response.status_code = 401
    return response


def load_identity() -> Response | None:
    """``before_request``: set ``g.user`` (and ``g.identity`` when via the gateway)."""
    g.user = None
    g.identity = None
    if request.blueprint in API_BLUEPRINTS or request.endpoint in {"healthz", "static"}:
        return None
    header = request.headers.get(HEADER)
    if header is not None:
        return _from_assertion(header)
    _from_session()
    return None


def _verified(header: str) -> Identity | None:
    """The identity in ``header``, verified once per request: by the forwarding middleware when
    it ran (its outcome is in the environ), else here."""
    done = request.environ.get(VERIFIED)
    if done is not None and done[0] == header:
        identity: Identity | None = done[1]
        return identity
    verifier: AssertionVerifier = current_app.extensions["product_verifier"]
    try:
        return verifier.verify(header, method=request.method, path=request.path)
    except InvalidAssertion:
        return None


def _from_assertion(header: str) -> Response | None:
    identity = _verified(header)
    if identity is None:
        return unauthorized("invalid_assertion")
    db = get_db()
    user = db.get(User, identity.product_user_id)
    if (
        user is None
        or not user.active
        or user.external_id is None
        or not hmac.compare_digest(user.external_id, identity.console_user_id)
    ):
        return unauthorized("unknown_user")
    g.user = user
    g.identity = identity
    if profile().session_history:
        _record_gateway_sign_in(user, identity.session_id, identity.auth_methods)
    return None


#: The assertion's ``amr`` (RFC 8176) in words for the session history; "user" (presence)
#: and "mfa" add nothing a person needs to read here.
METHOD_WORDS = {
    "pwd": "password",
    "otp": "code",
    "recovery": "recovery code",
    "hwk": "passkey",
    "swk": "passkey",
    "device": "remembered device",
    "fed": "single sign-on",
}


def describe_methods(amr: tuple[str, ...] | list[str]) -> str:
    """``("pwd", "hwk", "user", "mfa")`` -> ``"unified login: password + passkey"``."""
    words: list[str] = []
    for method in amr:
        word = METHOD_WORDS.get(method)
        if word and word not in words:
            words.append(word)
    return "unified login" + (": " + " + ".join(words) if words else "")


def _record_gateway_sign_in(
    user: User, gateway_session_id: str, amr: tuple[str, ...] = ()
) -> None:
    """The first request of each gateway session is one "unified login" sign-in."""
    db = get_db()
    seen = db.scalar(select(SignIn.id).where(SignIn.gateway_session_id == gateway_session_id))
    if seen is not None:
        return
    try:
        with db.begin_nested():
            db.add(
                SignIn(
                    user_id=user.id,
                    ip=(request.remote_addr or "")[:64],
                    user_agent=request.user_agent.string[:512],
                    method=describe_methods(amr)[:64],
                    gateway_session_id=gateway_session_id[:128],
                )
            )
        db.commit()
    except IntegrityError:  # another request of the same session recorded it first
        db.rollback()


def _from_session() -> None:
    sid = session.get("sid")
    if not isinstance(sid, str):
        return
    db = get_db()
    record = db.get(ProductSession, sid)
    max_age = timedelta(seconds=current_app.config["PRODUCT_SESSION_MAX_AGE"])
    user = db.get(User, record.user_id) if record is not None else None
    if (
        record is None
        or user is None
        or record.ended_at is not None
        or record.created_at + max_age < utcnow()
        or not user.active
        or user.managed_by_console  # linked users' product sessions are over
    ):
        if record is not None and record.ended_at is None:
            record.ended_at = utcnow()
            db.commit()
        session.clear()
        return
    g.user = user


def start_session(user: User, method: str = "password") -> None:
    """Log ``user`` in with a fresh product session (no fixation) and record the sign-in."""
    db = get_db()
    session.clear()
    record = ProductSession(id=secrets.token_urlsafe(32), user_id=user.id)
    db.add(record)
    db.add(
        SignIn(
            user_id=user.id,
            ip=(request.remote_addr or "")[:64],
            user_agent=request.user_agent.string[:512],
            method=method,
        )
    )
    db.commit()
    session["sid"] = record.id


def end_current_session() -> None:
    sid = session.get("sid")
    if isinstance(sid, str):
        db = get_db()
        record = db.get(ProductSession, sid)
        if record is not None and record.ended_at is None:
            record.ended_at = utcnow()
            db.commit()
    session.clear()


def current_user() -> User:
    user: User = g.user
    return user


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if g.get("user") is None:
            if g.get("identity") is None and wants_html():
                return redirect(login_url(request.full_path.rstrip("?")))
            return unauthorized("not_authenticated")
        return view(*args, **kwargs)

    return wrapped
