"""TOTP (RFC 6238 via pyotp) with replay protection, and single-use recovery codes.

pyotp alone accepts the same code again within its window; we keep the last accepted time step
per user and refuse any step at or before it. Recovery codes are 80-bit random values stored as
SHA-256 digests (they are high-entropy, so a slow hash adds nothing) and compared by digest.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable

import pyotp
import segno
from sqlalchemy import Update, or_, update
from sqlalchemy.orm import object_session
from sqlalchemy.orm.attributes import set_committed_value

from gateway.models import RecoveryCode, User, utcnow

ISSUER = "Unified Login"
RECOVERY_CODE_COUNT = 10
_STEP = 30
#: Where the time for the TOTP steps comes from (seconds since the epoch). Tests move it
#: (``monkeypatch.setattr(totp, "clock", ...)``) instead of waiting up to 30 s on the wall clock
#: for the authenticator's next code.
clock: Callable[[], float] = time.time


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG markup, rendered here (no external service)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#111", light="#fff")


def _clean(code: str) -> str:
    return "".join(code.split()).replace("-", "").lower()


class Check(enum.Enum):
    """What a TOTP code turned out to be."""

    ACCEPTED = "accepted"
    #: A current code, but its time step (or a later one) was already accepted: the person
    #: must wait for the next code, which is worth telling them apart from a wrong code.
    REUSED = "reused"
    WRONG = "wrong"


def check_totp(user: User, code: str, secret: str | None = None) -> Check:
    """Accept a current code (+-1 step) once; updates ``user.totp_last_step`` on success.

    Without ``secret`` (the key being confirmed at enrolment), the account's key counts only
    once it is on."""
    if secret is None:
        secret = user.totp_secret if user.has_2fa else None
    code = _clean(code)
    if not secret or len(code) != 6 or not code.isdigit():
        return Check.WRONG
    totp = pyotp.TOTP(secret)
    now_step = int(clock()) // _STEP
    for step in (now_step - 1, now_step, now_step + 1):
        expected = totp.at(step * _STEP)
        if hmac.compare_digest(expected, code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return Check.REUSED  # replay of an accepted (or older) code
            return Check.ACCEPTED if _claim_step(user, step) else Check.REUSED
    return Check.WRONG


def _claim_step(user: User, step: int) -> bool:
    """Record ``step`` as used; of two concurrent requests holding one code only one wins
    (the in-memory check above may see a stale row)."""
    return _claim(
        user,
        "totp_last_step",
        step,
        update(User).where(
            User.id == user.id,
            or_(User.totp_last_step.is_(None), User.totp_last_step < step),
        ),
    )


def _claim(row: User | RecoveryCode, attribute: str, value: object, statement: Update) -> bool:
    """Set ``attribute`` with a conditional UPDATE; False when another request got there first.
    Rows not yet in the database (no session) are simply set."""
    session = object_session(row)
    if session is None or row.id is None:
        setattr(row, attribute, value)
        return True
    claimed = session.execute(
        statement.values({attribute: value}).execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return False
    set_committed_value(row, attribute, value)
    return True


def _group(hex_code: str) -> str:
    return "-".join(hex_code[i : i + 5] for i in range(0, len(hex_code), 5))


def _digest(code: str) -> str:
    return hashlib.sha256(_clean(code).encode()).hexdigest()


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes; the plain codes are returned once, for display."""
    codes = [_group(secrets.token_hex(10)) for _ in range(RECOVERY_CODE_COUNT)]
    user.recovery_codes = [RecoveryCode(code_hash=_digest(c)) for c in codes]
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Spend one unused recovery code; each works once."""
    cleaned = _clean(code)
    if not 10 <= len(cleaned) <= 40:
        return False
    digest = _digest(cleaned)
    for stored in user.recovery_codes:
        if stored.used_at is None and hmac.compare_digest(stored.code_hash, digest):
            return _spend_code(stored)
    return False


def _spend_code(stored: RecoveryCode) -> bool:
    """Mark the code used only if no concurrent request did first."""
    return _claim(
        stored,
        "used_at",
        utcnow(),
        update(RecoveryCode).where(RecoveryCode.id == stored.id, RecoveryCode.used_at.is_(None)),
    )


def remaining_recovery_codes(user: User) -> int:
    return sum(1 for c in user.recovery_codes if c.used_at is None)


def are_unused_recovery_codes(user: User, codes: list[str]) -> bool:
    """Whether every one of ``codes`` is an unused recovery code of ``user`` (nothing spent)."""
    unused = {c.code_hash for c in user.recovery_codes if c.used_at is None}
    return all(
        any(hmac.compare_digest(_digest(code), stored) for stored in unused) for code in codes
    )
