"""Password reset: the emailed link, the second factor it still needs, and what a reset ends.

The link (``PASSWORD_RESET_MAX_AGE``, one hour) is signed for its own purpose, names the user
and address, and carries a fingerprint of the password hash at the time it was mailed: a
password change by any route (settings, another reset, sign-up replacing a pending password)
makes it stop matching. It is spent in ``used_tokens`` by the POST that sets the password
(mail scanners fetch links with GET). A person with 2FA proves a second factor before the new
password takes effect (``gateway.identity.factors.second_factors`` lists what they can use).
Afterwards every session ends and remembered devices are forgotten (``revoke_all``), the
passkeys the person chose are removed (a reset alone would leave an intruder's passkey signing
in), the address gets a notice naming the passkeys left, the audit log records it, and an
unconfirmed address counts as confirmed (the link proved the mailbox).
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import MutableMapping, Sequence
from typing import Any

from flask import current_app, url_for

from gateway.db import db
from gateway.identity import audit, notices, passkeys, throttle, tokens
from gateway.identity.factors import Factor, Use, check_code
from gateway.identity.mail import send_mail
from gateway.identity.passwords import hash_password
from gateway.identity.sessions import revoke_all
from gateway.identity.totp import Check
from gateway.models import PasskeyCredential, User, utcnow

TOKEN_PURPOSE = "password-reset"


class LinkProblem(enum.Enum):
    INVALID = "This link is not valid. Check that you copied all of it, or ask for a new one."
    EXPIRED = "This link has expired (it works for one hour). Ask for a new one below."
    USED = "This link was already used. Ask for a new one below if you need to."
    STALE = (
        "This link no longer works: the password was changed after it was sent. "
        "Ask for a new one below if you need to."
    )
    DISABLED = (
        "This account is disabled, so its password cannot be reset. Contact the site's "
        "support team."
    )


class ResetLinkError(Exception):
    def __init__(self, problem: LinkProblem) -> None:
        super().__init__(problem.value)
        self.problem = problem


def _fingerprint(user: User) -> str:
    return hashlib.sha256(("reset:" + user.password_hash).encode()).hexdigest()[:32]


def reset_link(user: User) -> str:
    token = tokens.make_token(TOKEN_PURPOSE, uid=user.id, email=user.email, pw=_fingerprint(user))
    return current_app.config["PUBLIC_URL"] + url_for("recovery.reset_password", token=token)


def request_reset(email: str, user: User | None) -> None:
    """Answer a "forgot password" request for ``email`` (``user``: its account, or None).

    The same work whoever holds the address: one per-address count, one audit row, one mail
    (the link, or a note that no account uses the address), so neither the page nor its
    timing tells who has an account. Past ``RESET_MAX_PER_ADDRESS`` an hour, nothing is sent.
    """
    allowed = throttle.per_address("reset", email, current_app.config["RESET_MAX_PER_ADDRESS"])
    audit.record("password_reset_requested", user.id if user else None, sent=allowed)
    if allowed:
        _mail_reset(email, user)
    db().commit()


def _mail_reset(email: str, user: User | None) -> None:
    base = current_app.config["PUBLIC_URL"]
    # A link is signed for an unknown address too (and thrown away): the same CPU work.
    link = reset_link(user if user is not None else User(id="", email=email, password_hash=""))
    if user is not None:
        send_mail(
            email,
            "Reset your password",
            "Someone (we hope you) asked to reset the password of your Unified Login account. "
            f"Open this link to choose a new one (it works once, for one hour):\n\n"
            f"{link}\n\n"
            "If you did not ask, ignore this message: your password stays as it is.",
        )
    else:
        send_mail(
            email,
            "Password reset requested",
            "Someone asked to reset the Unified Login password for this address, but no "
            f"account uses it. To create one: {base}{url_for('auth.signup')}\n\n"
            "If this was not you, ignore this message.",
        )


def open_link(token: object) -> tuple[User, dict[str, Any]]:
    """The user a live, unspent reset link is for, and its data; raises ResetLinkError (also
    for a disabled account: a reset would sign it in and lift its lock)."""
    try:
        data = tokens.read_token(
            TOKEN_PURPOSE, token, max_age=current_app.config["PASSWORD_RESET_MAX_AGE"]
        )
    except tokens.TokenExpired:
        raise ResetLinkError(LinkProblem.EXPIRED) from None
    except tokens.TokenInvalid:
        raise ResetLinkError(LinkProblem.INVALID) from None
    if tokens.is_spent(data):
        raise ResetLinkError(LinkProblem.USED)
    user = db().get(User, str(data.get("uid")))
    if user is None or user.email != data.get("email"):
        raise ResetLinkError(LinkProblem.INVALID)
    if data.get("pw") != _fingerprint(user):
        raise ResetLinkError(LinkProblem.STALE)
    if user.is_disabled:  # a link mailed before an operator disabled the account
        raise ResetLinkError(LinkProblem.DISABLED)
    return user, data


#: Session key: the reset link (its id) whose second factor this browser already proved.
PROVEN = "reset_second_factor"


def prove(
    user: User, factor: Factor, code: str, ip: str, link: str, store: MutableMapping[str, Any]
) -> Check:
    """Check one second factor for a reset (a recovery code is spent, audited and mailed when
    it matches; no code proves a passkey). A wrong code counts like a sign-in failure (per
    client and per ``link``, the reset link's id); a right one lifts the account lock and is
    remembered in ``store`` (the browser's session) for this link. Commits."""
    checked = check_code(user, code, Use.PASSWORD_RESET, accept=[factor])[0]
    if checked is not Check.ACCEPTED:
        throttle.record_failure(user.email, ip, link)
        audit.record("login_failed", user.id, stage="password_reset")
    else:
        throttle.record_success(user.email, user.id, by="password_reset")
        store[PROVEN] = {"jti": link, "method": factor.value}
    db().commit()
    return checked


def keep_passkey_proof(
    data: dict[str, Any], amr: list[str], store: MutableMapping[str, Any]
) -> None:
    """A passkey proved the second factor for this link in this browser (the ceremony spent
    its challenge and lifted the lock); ``amr`` is what the session will say after the
    password. Commits."""
    store[PROVEN] = {"jti": data["jti"], "method": Factor.PASSKEY.value, "amr": amr}
    db().commit()


def spend_link(data: dict[str, Any]) -> None:
    """Spend the reset link, as the first write of the request that sets the password.

    ResetLinkError(USED) when another request spent it first (its check passed before that
    one committed, or both ran at once): the transaction is rolled back, nothing changed."""
    try:
        tokens.spend(data)
    except tokens.TokenUsed:
        raise ResetLinkError(LinkProblem.USED) from None


def apply_reset(
    user: User,
    password: str,
    remove: Sequence[PasskeyCredential] = (),
    stopped_email: str | None = None,
) -> bool:
    """Set the new password, after :func:`spend_link` in the same transaction; ends every
    session, forgets remembered devices, removes the passkeys in ``remove`` (chosen on the
    reset page: a reset alone leaves them able to sign in), confirms the address, audits and
    notifies (naming ``stopped_email``, a pending email change the caller stopped). True when
    that removal turned 2FA off. Signing this browser in (``signin.finish``) commits."""
    removed = [credential.name for credential in remove]
    twofactor_off = False
    for credential in remove:
        twofactor_off = passkeys.remove(user, credential, by="password_reset") or twofactor_off
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        audit.record("email_verified", user.id, by="password_reset")
    ended = revoke_all(user.id, reason="password")
    # The mailbox (and the second factor) proved it: lift a lockout.
    throttle.record_success(user.email, user.id, by="password_reset")
    audit.record("password_reset", user.id, sessions_ended=ended)
    notices.password_reset(user, removed, twofactor_off, stopped_email)
    return twofactor_off
