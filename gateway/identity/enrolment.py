"""Setting up an authenticator app: the key lives in the enrolment until a code confirms it.

Opening the set-up page stores nothing in the account: the new key is kept in this browser's
signed session, bound to the account and to the sign-in session that asked, and only a correct
code from it writes it to the account and turns the factor on. Sign-in never reads the
enrolment, so a key that was shown but never confirmed proves nothing (issue 20), and the
enrolment ends with the browser session (signing out, or in again, clears it).

Why the signed cookie (as Flask-Security keeps ``tf_totp_secret`` in its session): the key is
shown in clear to this same browser anyway, the cookie is HttpOnly and cut out of every request
forwarded to a product (``gateway/proxy/headers.py``), and it holds the key only until the
confirmation, which removes it.
"""

from __future__ import annotations

from flask import session

from gateway.identity.totp import Check, check_totp, new_secret
from gateway.models import LoginSession, User, utcnow

_KEY = "totp_enrolment"


def _binding(user: User, record: LoginSession) -> dict[str, str]:
    return {"uid": user.id, "sid": record.public_id}


def pending_secret(user: User, record: LoginSession) -> str:
    """The key being set up in this sign-in session: the same on every reload (the app may
    already hold it), a new one when none is pending."""
    pending = session.get(_KEY)
    if (
        isinstance(pending, dict)
        and isinstance(pending.get("secret"), str)
        and {k: pending.get(k) for k in ("uid", "sid")} == _binding(user, record)
    ):
        return str(pending["secret"])
    secret = new_secret()
    session[_KEY] = _binding(user, record) | {"secret": secret}
    return secret


def confirm(user: User, record: LoginSession, code: str) -> Check:
    """Check ``code`` against the pending key; when accepted, the key becomes the account's
    (replacing any key it had: the old one stops) and the authenticator app is on (the caller
    audits, notifies and commits)."""
    secret = pending_secret(user, record)
    # A new key replacing the account's: no code of it was ever accepted, so the old key's
    # last step does not bind it (its first code may fall in the step just used to sign in).
    replaced_step = user.totp_last_step
    if user.totp_secret and user.totp_secret != secret:
        user.totp_last_step = None
    checked = check_totp(user, code, secret)
    if checked is not Check.ACCEPTED:
        user.totp_last_step = replaced_step
    else:
        user.totp_secret = secret
        user.totp_enabled_at = utcnow()
        session.pop(_KEY, None)
    return checked
