"""Password policy (NIST SP 800-63B) and hashing (argon2id via argon2-cffi, OWASP parameters)."""

from __future__ import annotations

import gzip
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from config.gateway import test_switches

MIN_LENGTH = 12
MAX_LENGTH = 128

#: OWASP minimum for argon2id: 19 MiB, two passes, one lane.
OWASP_HASHER = PasswordHasher(memory_cost=19456, time_cost=2, parallelism=1)
#: Test fixtures only (``GatewayTestSwitches.fast_password_hashing``): same algorithm, tiny cost.
FAST_HASHER = PasswordHasher(memory_cost=64, time_cost=1, parallelism=1)


def _hasher() -> PasswordHasher:
    fast = test_switches(current_app).fast_password_hashing
    return FAST_HASHER if fast else OWASP_HASHER


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    data = resources.files("gateway.identity.data").joinpath("common-passwords.txt.gz").read_bytes()
    return frozenset(gzip.decompress(data).decode().split())


def policy_problem(password: str, email: str = "") -> str | None:
    """Why ``password`` is refused, or None. No composition rules, on purpose (NIST)."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    if len(password) > MAX_LENGTH:
        return f"Use at most {MAX_LENGTH} characters."
    lowered = password.lower()
    if lowered in common_passwords() or lowered.strip() in common_passwords():
        return "This password is too common. Choose a less guessable one."
    if email and lowered == email.lower():
        return "Do not use your email address as your password."
    if len(set(password)) < 3:
        return "This password is too easy to guess. Choose a less repetitive one."
    return None


def hash_password(password: str) -> str:
    return _hasher().hash(password)


#: Verified against when the account does not exist, so both paths cost the same.
_DUMMY_HASH = OWASP_HASHER.hash("dummy password for constant-time checks")


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant-cost check; an unknown account still costs one hash verification, and so
    does an account without a password (``""``: made by single sign-on), which no password
    opens, not even the dummy hash's own."""
    hasher = _hasher()
    try:
        return hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
