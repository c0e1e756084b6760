"""Sealing the secrets an identity provider gave an organization (an OIDC client secret), so
the database alone does not hold them in the clear.

Fernet (``cryptography``) with a key derived by HKDF from the gateway's ``SECRET_KEY`` and
this purpose. Decision: a changed ``SECRET_KEY`` makes sealed secrets unreadable (the
connection then says so, and an owner types the secret again); a secret is never shown back,
only whether one is set.
"""

from __future__ import annotations

import base64

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

_PURPOSE = b"unified-login sso connection secrets v1"


class Unsealable(Exception):
    """The sealed value was made with another ``SECRET_KEY`` (or is damaged)."""


def _fernet() -> Fernet:
    secret = str(current_app.config["SECRET_KEY"]).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret)
    return Fernet(base64.urlsafe_b64encode(key))


def seal(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def unseal(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        raise Unsealable from None
