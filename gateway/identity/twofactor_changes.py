"""Changes on the 2FA settings page: the authenticator app (add, replace, remove) and new
recovery codes (passkeys: ``gateway.identity.passkey_changes``; the pages:
``gateway/console/settings/twofactor.py``).

Every change ends the other sessions and forgets remembered devices (a stolen session must not
survive a 2FA change), is audited, and sends a notice with the 2FA status after it; each
commits once, at its end. A code that does not confirm the key being set up commits nothing.
"""

from __future__ import annotations

from gateway.db import db
from gateway.identity import audit, enrolment, notices
from gateway.identity.factors import status
from gateway.identity.sessions import revoke_all
from gateway.identity.totp import Check, new_recovery_codes
from gateway.models import LoginSession, User


def add_authenticator(user: User, keep: LoginSession, code: str) -> list[str] | None:
    """Turn the key being set up on with ``code``: None when the code does not confirm it,
    else the new recovery codes (none when a passkey turned 2FA on already and codes are
    left: those stay)."""
    was_on = status(user).on
    if enrolment.confirm(user, keep, code) is not Check.ACCEPTED:
        return None
    codes = [] if was_on and status(user).recovery_codes_left else new_recovery_codes(user)
    _changed(user, keep, "authenticator_added" if was_on else "2fa_enabled",
             "Authenticator app added",
             "An authenticator app was set up for your Unified Login account.")
    return codes


def replace_authenticator(user: User, keep: LoginSession, code: str) -> bool:
    """The key being set up replaces the account's once ``code`` confirms it (the old one
    stops then); False when it does not."""
    if enrolment.confirm(user, keep, code) is not Check.ACCEPTED:
        return False
    _changed(user, keep, "authenticator_replaced", "Authenticator app replaced",
             "The authenticator app of your Unified Login account was replaced: codes from the "
             "old one no longer work.")
    return True


def remove_authenticator(user: User, keep: LoginSession) -> bool:
    """Remove the authenticator app; True when 2FA stays on (a passkey is left, and the
    recovery codes with it), False when it is off (its recovery codes deleted)."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    still_on = bool(user.passkeys)
    if not still_on:
        user.recovery_codes = []
    _changed(user, keep, "authenticator_removed" if still_on else "2fa_disabled",
             "Authenticator app removed",
             "The authenticator app was removed from your Unified Login account.")
    return still_on


def replace_recovery_codes(user: User, keep: LoginSession) -> list[str]:
    """New recovery codes (the old ones stop working), shown once: returned in clear."""
    codes = new_recovery_codes(user)
    _changed(user, keep, "recovery_codes_regenerated", "New recovery codes created",
             "New recovery codes were created for your Unified Login account: the old ones no "
             "longer work.")
    return codes


def _changed(user: User, keep: LoginSession, event: str, subject: str, what: str) -> None:
    """What every 2FA change does: end the other sessions (and remembered devices), audit,
    send the notice with the status after it, commit."""
    ended = revoke_all(user.id, keep=keep)
    user.must_enrol_2fa = False  # whatever an operator asked for is done (roles.must_enrol)
    audit.record(event, user.id, sessions_ended=ended)
    notices.second_factor_changed(user, subject, what, str(status(user)))
    db().commit()
