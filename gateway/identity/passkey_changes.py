"""Changes to an account's passkeys from its settings: add, rename, remove (the ceremonies are
``gateway.identity.passkeys``; the pages ``gateway/console/passkeys.py``).

Adding or removing one ends the other sessions and sends a notice; the passkey that turns 2FA
on comes with recovery codes (recovery cannot be skipped: issue 22); removing the last second
factor turns 2FA off and drops the codes. Each change commits once, at its end.
"""

from __future__ import annotations

from gateway.db import db
from gateway.identity import audit, notices, passkeys
from gateway.identity.factors import status
from gateway.identity.mail import mail_text
from gateway.identity.passkeys import PasskeyRefused
from gateway.identity.sessions import revoke_all
from gateway.identity.totp import new_recovery_codes
from gateway.models import LoginSession, PasskeyCredential, User


def add(
    user: User, keep: LoginSession, raw: str, name: str
) -> tuple[PasskeyCredential, list[str]]:
    """Register the passkey ``raw`` (the browser's JSON) as ``name``; the recovery codes when
    it turned 2FA on, else []. BadName before anything is spent; PasskeyRefused after its
    challenge is spent (committed so)."""
    was_on = user.has_second_factor
    try:
        credential = passkeys.register(user, raw, name)
    except PasskeyRefused:
        db().commit()  # the challenge stays spent
        raise
    ended = revoke_all(user.id, keep=keep)
    user.must_enrol_2fa = False  # an operator's 2FA reset asked for this (roles.must_enrol)
    body = (f'A passkey named "{mail_text(credential.name)}" was added to your Unified Login '
            "account.")
    codes = [] if was_on else new_recovery_codes(user)
    if not was_on:
        audit.record("2fa_enabled", user.id, sessions_ended=ended, factor="passkey")
        body += " Sign-in now asks for it after your password."
    notices.second_factor_changed(user, "A passkey was added to your account", body,
                                  str(status(user)))
    db().commit()
    return credential, codes


def rename(user: User, credential: PasskeyCredential, name: str) -> None:
    """A new name (``passkeys.BadName`` when refused), audited."""
    old = credential.name
    passkeys.rename(credential, name)
    audit.record("passkey_renamed", user.id, old=old, new=credential.name)
    db().commit()


def remove(user: User, keep: LoginSession, credential: PasskeyCredential) -> bool:
    """Remove it, end the other sessions, send the notice; True when it was the last second
    factor (2FA is off then, its codes deleted)."""
    name = credential.name
    ended = revoke_all(user.id, keep=keep)
    user.must_enrol_2fa = False  # an operator's 2FA reset asked for this (roles.must_enrol)
    body = f'The passkey named "{mail_text(name)}" was removed from your Unified Login account.'
    last = passkeys.remove(user, credential, sessions_ended=ended)
    if last:
        body += " It was your last second factor: two-factor authentication is now off."
    notices.second_factor_changed(user, "A passkey was removed from your account", body,
                                  str(status(user)))
    db().commit()
    return last
