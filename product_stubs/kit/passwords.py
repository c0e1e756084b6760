"""Product password hashing: argon2id at the OWASP minimum (cheap parameters only in tests)."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MAX_PASSWORD_LENGTH = 1024
MIN_PASSWORD_LENGTH = 12


class Passwords:
    def __init__(self, fast: bool = False) -> None:
        if fast:
            self._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
        else:
            self._hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
        # Verified against for unknown emails so that both answers take the same time.
        self._dummy = self._hasher.hash("dummy password for constant time")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """True when ``password`` matches ``stored``; a missing hash costs the same time."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        try:
            return self._hasher.verify(stored or self._dummy, password) and stored is not None
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self._hasher.check_needs_rehash(stored)
