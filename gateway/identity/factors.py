"""Which second factors an account has, its 2FA status, and a typed code checked as one.

One place decides: the sign-in's second step, re-authentication, the password reset and every
page or mail that states the 2FA status (:func:`status`) ask here, so a factor counts only once
it is on, and no page says "off" while another says "on" (issue 22). A TOTP key counts once its
first code confirmed it (``totp_enabled_at``); a key still being set up lives in the enrolment
(``gateway.identity.enrolment``), never in the account. Recovery codes belong to 2FA, not to
the authenticator app: whichever factor turns 2FA on issues them, and they count while any
factor is on. Every recovery-code spend, wherever it was typed, is audited and mailed from
here, so none goes unseen.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

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
    """The factors ``user`` has turned on (empty: none is asked after the password), the
    everyday ones first, recovery codes last (while an unused one is left)."""
    factors = [Factor.TOTP] if user.has_2fa else []
    if user.passkeys:
        factors.append(Factor.PASSKEY)
    if factors and remaining_recovery_codes(user):
        factors.append(Factor.RECOVERY_CODE)
    return factors


@dataclass(frozen=True)
class Status:
    """The one 2FA status every page and notice states, as "On: passkey (1), authenticator
    app" or "Off"."""

    passkeys: int
    authenticator_app: bool
    recovery_codes_left: int

    @property
    def on(self) -> bool:
        return bool(self.passkeys) or self.authenticator_app

    def __str__(self) -> str:
        if not self.on:
            return "Off"
        parts = [f"passkey ({self.passkeys})"] if self.passkeys else []
        if self.authenticator_app:
            parts.append("authenticator app")
        return "On: " + ", ".join(parts)


def status(user: User) -> Status:
    have = second_factors(user)
    return Status(
        passkeys=len(user.passkeys) if Factor.PASSKEY in have else 0,
        authenticator_app=Factor.TOTP in have,
        recovery_codes_left=remaining_recovery_codes(user) if have else 0,
    )


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
