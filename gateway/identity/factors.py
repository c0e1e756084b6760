"""Which second factors an account has, and a typed code checked as one of them.

One place decides: the sign-in's second step, re-authentication and the password reset all ask
here, so a factor counts only once it is on. A TOTP key counts once its first code confirmed it
(``totp_enabled_at``); a key still being set up lives in the enrolment
(``gateway.identity.enrolment``), never in the account. Every recovery-code spend, wherever it
was typed, is audited and mailed from here, so none goes unseen.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from gateway.identity import audit, notices
from gateway.identity.totp import (
    Check,
    check_totp,
    remaining_recovery_codes,
    use_recovery_code,
)
from gateway.models import User


class Factor(enum.StrEnum):
    """Second factors a sign-in, a re-authentication or a reset can be finished with."""

    TOTP = "otp"
    RECOVERY_CODE = "recovery"
    #: Proven by a WebAuthn ceremony (gateway/console/passkeys.py), never by a typed code.
    PASSKEY = "passkey"


class Use(enum.StrEnum):
    """Where a code was typed: named in the audit row and the notice."""

    SIGN_IN = "login"
    REAUTHENTICATE = "reauthenticate"
    PASSWORD_RESET = "password_reset"


_PURPOSES = {
    Use.SIGN_IN: "to sign in",
    Use.REAUTHENTICATE: "to confirm it is you before a settings change",
    Use.PASSWORD_RESET: "to reset your password",
}


def second_factors(user: User) -> list[Factor]:
    """The factors ``user`` has turned on (empty: none is asked after the password)."""
    factors = [Factor.TOTP, Factor.RECOVERY_CODE] if user.has_2fa else []
    if user.passkeys:
        factors.append(Factor.PASSKEY)
    return factors


def check_code(
    user: User, code: str, use: Use, *, accept: Iterable[Factor]
) -> tuple[Check, Factor | None]:
    """Try ``code`` as each factor of ``accept`` that ``user`` has, in order; the factor it
    proved, or the first refusal worth telling apart (a TOTP code already used)."""
    have = second_factors(user)
    for factor in accept:
        if factor not in have:
            continue
        if factor is Factor.TOTP:
            checked = check_totp(user, code)
            if checked is not Check.WRONG:
                return checked, factor if checked is Check.ACCEPTED else None
        elif factor is Factor.RECOVERY_CODE and _spend_recovery_code(user, code, use):
            return Check.ACCEPTED, factor
    return Check.WRONG, None


def _spend_recovery_code(user: User, code: str, use: Use) -> bool:
    """Spend one unused recovery code; the audit row and the notice go with it (the caller
    commits)."""
    if not use_recovery_code(user, code):
        return False
    remaining = remaining_recovery_codes(user)
    audit.record("recovery_code_used", user.id, by=use.value, remaining=remaining)
    notices.recovery_code_used(user, remaining, _PURPOSES[use])
    return True
