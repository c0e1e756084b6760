"""Signing in, as a state machine apart from its pages: the password step, the pending second
factor, the finish. Every way in (password, code, recovery code, passkey, remembered device,
password reset) ends in :func:`finish`: one session start, one device note, one audit row, one
commit.

The half-done sign-in between the password and the second factor is a :class:`PendingSignIn`
kept in a mapping the caller passes: the Console passes ``flask.session`` (signed cookie), a
unit test a dict. It lives ``PENDING_2FA_SECONDS`` and dies with any password or 2FA change and
"sign out everywhere" (the account's session epoch).

Each step commits the request's unit of work once, at its end; failures are counted in the
throttle's own transaction (``gateway.identity.throttle``), so they survive a request that
breaks afterwards.

Organizations may require single sign-on of the accounts they manage. Identity knows no
organizations (the layers point the other way), so it asks a :data:`GATE_KEY` function the
app factory installs (``gateway.organizations.sso.enforcement.gate``) and keeps the rule
itself in :func:`finish`, which every way in passes: a gated account gets no session but the
"use single sign-on" page, whatever the proof.
"""

from __future__ import annotations

import enum
import hashlib
import time
from collections.abc import Callable, MutableMapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app, redirect, session, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from gateway.db import db
from gateway.identity import audit, devices, notices, throttle
from gateway.identity.addresses import canonical_email
from gateway.identity.factors import Factor, Use, check_code
from gateway.identity.passwords import hash_password, needs_rehash, verify_password
from gateway.identity.sessions import start_session
from gateway.identity.totp import Check, remaining_recovery_codes
from gateway.models import User, utcnow
from gateway.web.observability import LOGINS
from gateway.web.return_paths import safe_return_path

#: Seconds between the password step and the 2FA step before starting over.
PENDING_2FA_SECONDS = 300


def find_user(email: str | None) -> User | None:
    if email is None:
        return None
    return db().scalars(select(User).where(User.email == email)).first()


def expired_signup(user: User) -> bool:
    """An unconfirmed sign-up older than a verification link lives: it counts as absent."""
    lifetime = timedelta(seconds=current_app.config["EMAIL_TOKEN_MAX_AGE"])
    return not user.is_verified and utcnow() - user.created_at > lifetime


def find_account(email: str | None) -> User | None:
    """The account at ``email``, leaving out expired sign-ups."""
    user = find_user(email)
    return None if user is None or expired_signup(user) else user


def account_key(raw: str) -> str:
    """Throttle key: the canonical email, or a digest of text that is not an address (which
    may hold anything, NUL bytes included, that a database column would refuse)."""
    digest = hashlib.sha256(raw.encode("utf-8", "replace")).hexdigest()
    return canonical_email(raw) or "raw:" + digest


class PendingSignIn:
    """The sign-in waiting for its second factor, in ``store`` (``flask.session`` by default)."""

    KEY = "pending_2fa"

    def __init__(
        self, store: MutableMapping[str, Any] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store: MutableMapping[str, Any] = session if store is None else store
        self._clock = clock

    def start(self, user: User, next_path: str) -> None:
        self._store[self.KEY] = {
            "uid": user.id, "at": int(self._clock()), "epoch": user.session_epoch,
            "next": next_path,
        }

    def user(self) -> tuple[User, str] | None:
        """The account and the page to go on to, while the half-done sign-in is alive."""
        pending = self._store.get(self.KEY)
        if not isinstance(pending, dict) or not isinstance(pending.get("at"), int):
            return None
        if self._clock() - pending["at"] > PENDING_2FA_SECONDS:
            self._store.pop(self.KEY, None)
            return None
        user = db().get(User, str(pending.get("uid")))
        # Sign out everywhere and a password or 2FA change end this half-done sign-in too.
        if user is None or not user.has_second_factor or pending.get("epoch") != user.session_epoch:
            self._store.pop(self.KEY, None)
            return None
        return user, safe_return_path(pending.get("next"), default=url_for("console.home"))


class Gate(enum.Enum):
    """What an organization's enforced single sign-on leaves to an account's own sign-in."""

    #: No rule: every way in.
    OPEN = "open"
    #: Only through the organization's identity provider (``fed`` in the methods).
    SSO_ONLY = "sso_only"
    #: An owner's break-glass: the password and a second factor proven now (no remembered
    #: device), so a broken identity provider cannot lock the organization out.
    BREAK_GLASS = "break_glass"


#: ``app.extensions`` key of the ``User -> Gate`` function (absent: every account is OPEN).
GATE_KEY = "gateway.sign_in_gate"
#: The session method of a single sign-on (``gateway.organizations.sso.signin``).
FEDERATED = "fed"
#: Methods that prove a second factor now (a remembered ``device`` is not one).
_SECOND_FACTORS = frozenset({"otp", "recovery", "hwk", "swk"})


def gate(user: User) -> Gate:
    check: Callable[[User], Gate] | None = current_app.extensions.get(GATE_KEY)
    return Gate.OPEN if check is None else check(user)


def gate_allows(user: User, methods: list[str]) -> bool:
    """Whether the organization's rule lets ``methods`` start a session for ``user``."""
    if FEDERATED in methods:
        return True
    rule = gate(user)
    if rule is Gate.SSO_ONLY:
        return False
    if rule is Gate.BREAK_GLASS:
        return "pwd" in methods and not _SECOND_FACTORS.isdisjoint(methods)
    return True


class Outcome(enum.Enum):
    THROTTLED = "throttled"
    REFUSED = "refused"
    REUSED_CODE = "reused_code"
    UNVERIFIED = "unverified"
    #: Right password (or passkey), but an operator disabled the account.
    DISABLED = "disabled"
    SECOND_FACTOR = "second_factor"
    SIGNED_IN = "signed_in"
    #: Right password, but the account's organization requires single sign-on.
    SSO_REQUIRED = "sso_required"


@dataclass(frozen=True)
class Step:
    """What a step of the sign-in came to; ``response`` is the redirect of a finished one."""

    outcome: Outcome
    user: User | None = None
    blocked: throttle.Blocked | None = None
    response: Response | None = None


def failed(
    user: User | None, account: str, ip: str, stage: str, link: str | None = None,
    **detail: object,
) -> None:
    """A refused proof (password, code, passkey) of a sign-in: counted (its own transaction),
    audited, the lock audited when this failure set it off; the request's audit rows commit."""
    user_id = user.id if user else None
    locked = throttle.record_failure(account, ip, link)
    LOGINS.labels("failure").inc()
    audit.record("login_failed", user_id, stage=stage, **detail)
    if locked:
        audit.record("lockout", user_id)
    db().commit()


def password_step(
    email: str, password: str, ip: str, next_path: str, pending: PendingSignIn
) -> Step:
    """The first step: the password. Unknown accounts, wrong passwords and expired sign-ups
    get the same refusal (and the same hashing work)."""
    account = account_key(email)
    blocked = throttle.check(account, ip)
    if blocked:
        return Step(Outcome.THROTTLED, blocked=blocked)
    user = find_account(canonical_email(email))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        failed(user, account, ip, "password")
        return Step(Outcome.REFUSED, user)
    if user.is_disabled:  # only now: the answer tells nothing to whoever lacks the password
        db().commit()
        return Step(Outcome.DISABLED, user)
    if not user.has_second_factor:  # cleared once the second factor is right too
        throttle.record_success(account)
    if not user.is_verified:  # no rehash: it would end the links mailed for this sign-up
        db().commit()
        return Step(Outcome.UNVERIFIED, user)
    rule = gate(user)
    if rule is Gate.SSO_ONLY or (rule is Gate.BREAK_GLASS and not user.has_second_factor):
        audit.record("login_refused_sso", user.id, stage="password")
        db().commit()
        return Step(Outcome.SSO_REQUIRED, user)
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    # Break-glass proves a second factor now: a remembered browser does not skip it.
    if (user.has_second_factor and rule is Gate.OPEN
            and devices.remembered_device(user) is not None):
        # A remembered browser skips the second factor only: the password was just checked.
        throttle.record_success(account)
        return Step(Outcome.SIGNED_IN, user, response=finish(user, ["pwd", "device"], next_path))
    if user.has_second_factor:  # TOTP or a passkey
        pending.start(user, next_path)
        db().commit()
        return Step(Outcome.SECOND_FACTOR, user)
    return Step(Outcome.SIGNED_IN, user, response=finish(user, ["pwd"], next_path))


def code_step(
    user: User, code: str, ip: str, next_path: str, *, recovery: bool, remember: bool
) -> Step:
    """The second step with a typed code: the authenticator's, or a recovery code (which the
    TOTP field takes too). Only the factors the account has turned on count."""
    blocked = throttle.check(user.email, ip)
    if blocked:
        return Step(Outcome.THROTTLED, user, blocked=blocked)
    accept = [Factor.RECOVERY_CODE] if recovery else [Factor.TOTP, Factor.RECOVERY_CODE]
    checked, factor = check_code(user, code, Use.SIGN_IN, accept=accept)
    if factor is None:
        failed(user, user.email, ip, "2fa")
        return Step(Outcome.REUSED_CODE if checked is Check.REUSED else Outcome.REFUSED, user)
    throttle.record_success(user.email)
    response = finish(user, ["pwd", factor.value], next_path, remember=remember)
    return Step(Outcome.SIGNED_IN, user, response=response)


def passkey_step(user: User, amr: list[str], next_path: str) -> Step:
    """Passwordless: the account a verified passkey names signs in, once its address is
    confirmed. The account lock does not hold a passkey back (``throttle.Proof.PASSKEY``):
    its success lifts it."""
    if user.is_disabled:
        db().commit()  # the challenge stays spent
        return Step(Outcome.DISABLED, user)
    if not user.is_verified:
        db().commit()  # the challenge stays spent
        return Step(Outcome.UNVERIFIED, user)
    throttle.record_success(user.email, user.id, by="passkey")
    return Step(Outcome.SIGNED_IN, user, response=finish(user, amr, next_path))


def finish(
    user: User, methods: list[str], next_path: str, *, remember: bool = False,
    idp: str | None = None, max_age: int | None = None,
) -> Response:
    """Start the session; note the device (a notice when it is new, remembered when asked);
    after a recovery code, show how many are left before going on to ``next_path``. Commits
    the request's unit of work. An account whose organization requires single sign-on gets
    the page that says so instead of a session (:func:`gate_allows`). ``idp`` and ``max_age``:
    a single sign-on's identity provider and the organization's session lifetime."""
    if not gate_allows(user, methods):
        audit.record("login_refused_sso", user.id, methods=methods)
        db().commit()
        return redirect(url_for("sso.required"))
    start_session(user, methods, idp=idp, max_age=max_age)
    response = redirect(next_path)
    if "recovery" in methods:  # spending it sent the notice (gateway.identity.factors)
        remaining = remaining_recovery_codes(user)
        session["recovery_code_used"] = {"next": next_path, "remaining": remaining}
        response = redirect(url_for("twofactor.recovery_code_used"))
    device, seen_before = devices.note_sign_in(user, response, remember=remember)
    if not seen_before and devices.has_other_devices(user, device):
        notices.new_sign_in(user, device)
    if remember:
        audit.record("device_remembered", user.id, device=device.name)
    LOGINS.labels("success").inc()
    if idp is None:
        audit.record("login", user.id, methods=methods, device=device.name)
    else:
        audit.record("login", user.id, methods=methods, device=device.name, idp=idp)
    db().commit()
    return response
