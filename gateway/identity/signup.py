"""Sign-up and its email verification, apart from their pages (``gateway/console/auth.py``).

An account is only claimed by proving the mailbox. Until its link is used, a sign-up is
pending: the next sign-up of the same address replaces its password (and the links mailed for
it stop working), and once ``EMAIL_TOKEN_MAX_AGE`` passed it counts as absent everywhere (login,
resend, verification) until a new sign-up of the address takes the row over. Each use case
commits the request's unit of work once, at its end.
"""

from __future__ import annotations

import enum
import hashlib
from typing import Any

from flask import current_app, session, url_for
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from gateway.db import db
from gateway.identity import audit, signin, throttle, tokens
from gateway.identity.mail import send_mail
from gateway.identity.passwords import hash_password, verify_password
from gateway.identity.signin import expired_signup, find_account, find_user
from gateway.models import User, utcnow

PURPOSE = "verify-email"
#: The browser session's note of the sign-up it made (its address and attempt).
SIGNED_UP_HERE = "signed_up"


def _attempt_of(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:32]


def _attempt(user: User) -> str:
    """Names the credentials a verification link was mailed for: a new sign-up of a pending
    address gets a new password hash, so links mailed for earlier attempts stop matching."""
    return _attempt_of(user.password_hash)


def verification_link(user: User) -> str:
    token = tokens.make_token(PURPOSE, uid=user.id, email=user.email, attempt=_attempt(user))
    return current_app.config["PUBLIC_URL"] + url_for("auth.verify_email", token=token)


def send_verification(user: User) -> bool:
    """Queue the confirmation link; False when the per-recipient cap held it back."""
    return send_mail(
        user.email,
        "Confirm your email address",
        "Confirm the address for your Unified Login account by opening this link "
        f"(valid for 24 hours, once):\n\n{verification_link(user)}\n\n"
        "If you did not sign up, ignore this message.",
    )


def sign_up(email: str, password: str) -> None:
    """Sign ``email`` up with ``password``: a verification link, or (the address belongs to a
    confirmed account) a note to its owner. The same answer and one mail either way, so
    nothing tells who has an account."""
    # Hash whether or not the address is taken: skipping it would time who has an account.
    password_hash = hash_password(password)
    user = _pending_signup(email, password_hash)
    # This browser's note of its sign-up, alike whether or not the address was free (the
    # signed cookie is readable): only a pending sign-up holding this very hash matches it.
    session[SIGNED_UP_HERE] = {"email": email, "attempt": _attempt_of(password_hash)}
    if user is not None:
        audit.record("signup", user.id)
        send_verification(user)
    else:
        base = current_app.config["PUBLIC_URL"]
        send_mail(
            email,
            "Someone tried to sign up with your address",
            f"You already have a Unified Login account. Sign in: {base}{url_for('auth.login')}"
            f"\n\nForgot your password? Reset it: {base}{url_for('recovery.forgot_password')}",
        )
    db().commit()


def _pending_signup(email: str, password_hash: str) -> User | None:
    """The unconfirmed account at ``email``, now holding ``password_hash``; None when the
    address belongs to a confirmed account.

    Proving the mailbox decides, not who signed up first: a pending sign-up (expired or not)
    takes the latest password and starts its lifetime again, and the links mailed for it
    before stop working, so whoever reads the inbox confirms the password they chose.
    """
    user = find_user(email)
    if user is None:
        user = User(email=email, password_hash=password_hash)
        try:
            with db().begin_nested():
                db().add(user)
            return user
        except IntegrityError:  # the same address signed up at the same moment
            user = find_user(email)
    if user is None or user.is_verified:
        return None
    user.password_hash = password_hash
    user.created_at = utcnow()
    return user


class LinkProblem(Exception):
    """A verification link that cannot confirm anything; its text is what the page says."""


ALREADY_USED = "This link was already used. Sign in, or ask for a new link."
#: A pending sign-up whose address an existing account's email change confirmed first.
TAKEN_FIRST = (
    "This address was confirmed by another account first, so this sign-up no longer exists. "
    "Sign in if that account is yours, or sign up with another address."
)
WRONG_PASSWORD = (
    "That is not the password chosen for this sign-up. If you did not sign up again since "
    "this link was sent, someone else may have: sign up again with your own password, and "
    "use the link from that mail."
)


def open_link(token: str) -> tuple[User, dict[str, Any]]:
    """The pending sign-up a live, unspent verification link is for; raises LinkProblem."""
    try:
        data = tokens.read_token(PURPOSE, token)
        if tokens.is_spent(data):
            raise tokens.TokenUsed
    except tokens.TokenExpired:
        raise LinkProblem("This link has expired. Ask for a new one below.") from None
    except tokens.TokenUsed:
        raise LinkProblem(ALREADY_USED) from None
    except tokens.TokenInvalid:
        raise LinkProblem("This link is not valid. Check that you copied all of it.") from None
    user = db().get(User, data.get("uid"))
    if user is None and find_account(str(data.get("email"))) is not None:
        raise LinkProblem(TAKEN_FIRST)  # an email change confirmed the address first
    if user is None or user.email != data.get("email") or data.get("attempt") != _attempt(user):
        raise LinkProblem("This link is not valid any more. Ask for a new one below.")
    if expired_signup(user):
        raise LinkProblem("This sign-up has expired. Sign up again.")
    return user, data


class Confirmation(enum.Enum):
    CONFIRMED = "confirmed"
    THROTTLED = "throttled"
    INCOMPLETE = "incomplete"
    WRONG_PASSWORD = "wrong_password"


def signed_up_here(user: User) -> bool:
    """Whether this browser made the sign-up ``user`` is (its latest one: a later sign-up of
    the address, anywhere, gave the row another password hash)."""
    note = session.get(SIGNED_UP_HERE)
    return (
        isinstance(note, dict) and note.get("email") == user.email
        and note.get("attempt") == _attempt(user)
    )


def confirm_here(user: User, data: dict[str, Any], next_path: str) -> Response:
    """Spend the link in the browser that signed up, and sign it in: the password was typed
    there at sign-up and the link proves the mailbox, so asking the password again proves
    nothing more. Another browser confirms with the password (:func:`confirm`). Commits once
    (``signin.finish``); LinkProblem when the link lost a race."""
    _spend(user, data)
    session.pop(SIGNED_UP_HERE, None)
    return signin.finish(user, ["pwd"], next_path)


def confirm(
    user: User, data: dict[str, Any], password: str | None, ip: str
) -> tuple[Confirmation, throttle.Blocked | None]:
    """Spend the link with the sign-up's password. The link proves the mailbox; the password
    proves this is the sign-up the mailbox owner made: someone who signed up the address with
    their own password cannot confirm it without the link, and the mailbox owner cannot
    confirm a stranger's sign-up (they sign up again, which replaces it). Failures count like
    sign-in failures (throttled per account and client). ``password`` None: the form was not
    valid (INCOMPLETE, after the throttle). LinkProblem when the link lost a race.
    """
    blocked = throttle.check(user.email, ip)
    if blocked:
        return Confirmation.THROTTLED, blocked
    if password is None:
        return Confirmation.INCOMPLETE, None
    if not verify_password(user.password_hash, password):
        throttle.record_failure(user.email, ip)
        return Confirmation.WRONG_PASSWORD, None
    _spend(user, data)
    throttle.record_success(user.email)
    db().commit()
    return Confirmation.CONFIRMED, None


def _spend(user: User, data: dict[str, Any]) -> None:
    """Spend the link and mark the address verified (uncommitted); LinkProblem when another
    request spent it first or an email change took the address meanwhile."""
    try:
        tokens.spend(data)  # first of this request's writes; rolled back whole if it loses
    except tokens.TokenUsed:
        raise LinkProblem(ALREADY_USED) from None
    if not _still_exists(user):  # an email change confirmed the address meanwhile
        db().rollback()
        raise LinkProblem(TAKEN_FIRST)
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        audit.record("email_verified", user.id)


def _still_exists(user: User) -> bool:
    """Whether the sign-up's row is still there, locked until commit (PostgreSQL; SQLite's
    one writer is this request since the link was spent): an email change confirmed first
    deletes a pending sign-up of its address."""
    query = select(User.id).where(User.id == user.id).with_for_update()
    return db().scalars(query).first() is not None


def resend(email: str) -> None:
    """One mail whoever holds ``email`` (a new link, "already confirmed", or "no sign-up is
    waiting"), so neither the page nor its timing tells."""
    user = find_account(email)
    base = current_app.config["PUBLIC_URL"]
    if user is not None and not user.is_verified:
        send_verification(user)
    elif user is not None:
        send_mail(
            email,
            "Your address is already confirmed",
            "Someone asked for a new confirmation link, but this address is already confirmed. "
            f"Sign in: {base}{url_for('auth.login')}",
        )
    else:
        send_mail(
            email,
            "No sign-up is waiting for this address",
            "Someone asked for a new confirmation link for this address, but no sign-up is "
            f"waiting for it. To create an account: {base}{url_for('auth.signup')}\n\n"
            "If this was not you, ignore this message.",
        )
    db().commit()
