"""Server-side sessions: start, look up on every request, re-authenticate, revoke.

The browser cookie (Flask's signed cookie) holds only a random token. Its SHA-256 names a
``LoginSession`` row, read on every request, so logout, "sign out everywhere", password and 2FA
changes take effect at once on every gateway process sharing the database.
"""

from __future__ import annotations

import copy
import hashlib
import secrets
import time
from datetime import timedelta
from typing import Any

from flask import Flask, Request, current_app, g, session
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin
from itsdangerous import BadSignature
from sqlalchemy import select, update
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.http import parse_cookie

from gateway.db import db, own_transaction
from gateway.identity import audit, devices
from gateway.models import LoginSession, User, utcnow
from gateway.web.client import client_ip, user_agent

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = None  # the server-side record is the protection
#: How often ``last_seen_at`` is written; reads stay one query per request in between.
_TOUCH_INTERVAL = timedelta(seconds=60)


class RememberingCookieSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with each verified cookie remembered for a minute.

    Every proxied request carries the same cookie; checking its signature and decoding it again
    each time was a seventh of the gateway's CPU per request. The cache key is the exact signed
    string, so only a cookie that verified before is reused, and nothing about revocation
    depends on it: the session row is still checked on every request.
    """

    ttl = 60.0
    size = 10_000

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        value = request.cookies.get(self.get_cookie_name(app))
        remembered = self._remembered(app, value)
        if remembered is not None:
            return self.session_class(copy.deepcopy(remembered))
        opened = super().open_session(app, request)
        if value and opened:  # verified and not empty: worth remembering
            self._remember(app, value, dict(opened))
        return opened

    def token(self, app: Flask, cookie_header: str) -> object:
        """The ``sid`` in a raw ``Cookie`` header, verified as :meth:`open_session` would, for
        the forward-auth answer that runs without a request context (None when absent)."""
        value = parse_cookie(cookie_header).get(self.get_cookie_name(app))
        if not value:
            return None
        data = self._remembered(app, value)
        if data is None:
            serializer = self.get_signing_serializer(app)
            if serializer is None:
                return None
            try:
                data = dict(serializer.loads(
                    value, max_age=int(app.permanent_session_lifetime.total_seconds())))
            except BadSignature:
                return None
            if data:
                self._remember(app, value, data)
        return data.get("sid")

    def _remembered(self, app: Flask, value: str | None) -> dict[str, Any] | None:
        if not value:
            return None
        hit = self._cache(app).get(value)
        return hit[1] if hit is not None and hit[0] > time.monotonic() else None

    def _remember(self, app: Flask, value: str, data: dict[str, Any]) -> None:
        cache = self._cache(app)
        if len(cache) >= self.size:
            cache.clear()
        cache[value] = (time.monotonic() + self.ttl, copy.deepcopy(data))

    @staticmethod
    def _cache(app: Flask) -> dict[str, tuple[float, dict[str, Any]]]:
        return app.extensions.setdefault("gateway.cookie_cache", {})  # type: ignore[no-any-return]


class CurrentUser(UserMixin):
    """What ``flask_login.current_user`` is: the user plus the session they came with."""

    def __init__(self, record: LoginSession) -> None:
        self.record = record
        self.user: User = record.user

    def get_id(self) -> str:
        return self.user.id


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(
    user: User, auth_methods: list[str], *, idp: str | None = None, max_age: int | None = None
) -> LoginSession:
    """Sign ``user`` in with a brand-new session (no fixation: the old cookie is wiped).
    A single sign-on session names its identity provider (``idp``) and may live shorter
    than the gateway's ``SESSION_MAX_AGE`` (``max_age``, the organization's policy)."""
    session.clear()
    token = secrets.token_urlsafe(32)
    record = LoginSession(
        id=_digest(token),
        user_id=user.id,
        auth_methods=",".join(auth_methods),
        idp=idp,
        max_age=max_age,
        ip_address=client_ip(),
        user_agent=user_agent(),
    )
    db().add(record)
    session["sid"] = token
    session.permanent = True
    g.pop("_login_user", None)
    return record


@login_manager.request_loader
def _load_from_cookie(_request: object) -> CurrentUser | None:
    record = current_record()
    return CurrentUser(record) if record is not None else None


def current_record() -> LoginSession | None:
    """The live session of this request, or None (revoked, expired, unknown or no cookie)."""
    if "_session_record" in g:
        return g._session_record
    record = _lookup(session.get("sid"))
    g._session_record = record
    return record


def token_digest(token: object) -> str | None:
    """The row id for a cookie token, or None when the value cannot be one of ours."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    return _digest(token)


def _lookup(token: object) -> LoginSession | None:
    digest = token_digest(token)
    if digest is None:
        return None
    query = (
        select(LoginSession)
        .options(joinedload(LoginSession.user))
        .where(LoginSession.id == digest, LoginSession.revoked_at.is_(None))
    )
    record = db().scalars(query).first()
    return record if record is not None and is_live(record) else None


def is_live(record: LoginSession) -> bool:
    """Within its absolute and idle lifetimes, and its account not disabled (the Console's
    check and the proxy's both come here); refreshes ``last_seen_at`` once a minute."""
    if record.user.is_disabled:
        return False
    now = utcnow()
    config = current_app.config
    max_age = min(config["SESSION_MAX_AGE"], record.max_age or config["SESSION_MAX_AGE"])
    if now - record.created_at > timedelta(seconds=max_age) or (
        now - record.last_seen_at > timedelta(seconds=config["SESSION_IDLE_TIMEOUT"])
    ):
        return False
    if now - record.last_seen_at > _TOUCH_INTERVAL:
        # Bookkeeping, not the request's use case: its own transaction (a GET commits nothing).
        with own_transaction() as bookkeeping:
            bookkeeping.execute(
                update(LoginSession).where(LoginSession.id == record.id).values(last_seen_at=now)
            )
        set_committed_value(record, "last_seen_at", now)
    return True


def is_fresh(record: LoginSession) -> bool:
    """True when the person proved who they are within the re-authentication window."""
    window = timedelta(seconds=current_app.config["REAUTH_WINDOW_SECONDS"])
    return utcnow() - record.authenticated_at <= window


def mark_reauthenticated(record: LoginSession) -> None:
    record.authenticated_at = utcnow()


def reauthenticated(record: LoginSession, **detail: object) -> None:
    """The person proved who they are again: the freshness window opens, audited; commits."""
    mark_reauthenticated(record)
    audit.record("reauthenticated", record.user_id, **detail)
    db().commit()


def cache_epoch() -> int:
    """Changes whenever this process revokes a session, or changes a user's email or links;
    per-process caches of session checks (the proxy's) drop everything older at once."""
    return session_epoch(current_app)


def session_epoch(app: Flask) -> int:
    """:func:`cache_epoch` of ``app``, read without entering its context (the proxy's cache
    hit enters none)."""
    return int(app.extensions.get("gateway.session_epoch", 0))


def invalidate_cached_checks() -> None:
    current_app.extensions["gateway.session_epoch"] = cache_epoch() + 1


#: What the sign-in page tells a browser whose session something else ended, by ``ended_by``
#: (a browser that signed itself out forgot its cookie and is told nothing).
ENDED_BECAUSE = {
    "password": "You were signed out because the account's password was changed.",
    "everywhere": 'You were signed out because someone chose "Sign out everywhere".',
    "session_revoked": "You were signed out from another browser of this account.",
    "credentials": "You were signed out because the account's two-factor authentication or "
    "passkeys changed.",
    "operator": "You were signed out by an administrator.",
}


def revoke(record: LoginSession, reason: str | None = None) -> None:
    record.revoked_at = utcnow()
    record.ended_by = reason
    invalidate_cached_checks()


def sign_out(record: LoginSession, event: str = "logout", **detail: object) -> None:
    """End one session (every instance refuses it from now), audited as ``event``; commits."""
    revoke(record, event if event in ENDED_BECAUSE else None)
    audit.record(event, record.user_id, **detail)
    db().commit()


def sign_out_everywhere(user_id: str) -> int:
    """End every session of ``user_id`` (and forget its remembered devices), audited;
    commits. How many ended."""
    count = revoke_all(user_id, reason="everywhere")
    audit.record("sessions_revoked_all", user_id, count=count)
    db().commit()
    return count


def revoke_all(
    user_id: str, keep: LoginSession | None = None, reason: str = "credentials"
) -> int:
    """End every live session of a user (except ``keep``) and every sign-in of theirs still
    waiting for its 2FA code, and make every remembered device ask for the second factor
    again (every credential change and "sign out everywhere" come here); returns how many
    sessions ended. ``reason`` (a key of ``ENDED_BECAUSE``) is what those browsers are told."""
    query = update(LoginSession).where(
        LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None)
    )
    if keep is not None:
        query = query.where(LoginSession.id != keep.id)
    result = db().execute(query.values(revoked_at=utcnow(), ended_by=reason))
    db().execute(
        update(User).where(User.id == user_id).values(session_epoch=User.session_epoch + 1)
    )
    devices.forget_all(user_id)
    invalidate_cached_checks()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def active_sessions(user_id: str) -> list[LoginSession]:
    query = (
        select(LoginSession)
        .where(LoginSession.user_id == user_id, LoginSession.revoked_at.is_(None))
        .order_by(LoginSession.last_seen_at.desc())
    )
    now = utcnow()
    idle = timedelta(seconds=current_app.config["SESSION_IDLE_TIMEOUT"])
    return [s for s in db().scalars(query) if now - s.last_seen_at <= idle]


def why_signed_out(*, forget: bool = False) -> str | None:
    """What ended the session this browser still holds, when something other than this
    browser ended it (None otherwise); ``forget`` drops the dead token, so it is said once."""
    digest = token_digest(session.get("sid"))
    if digest is None:
        return None
    record = db().get(LoginSession, digest)
    if record is None or record.revoked_at is None:
        return None
    if forget:
        session.pop("sid", None)
    return ENDED_BECAUSE.get(record.ended_by or "")


def end_browser_session() -> None:
    """Forget the cookie of this browser (after its record is revoked)."""
    session.clear()
    g.pop("_session_record", None)
