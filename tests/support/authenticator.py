"""A software WebAuthn authenticator for tests: real attestation and assertion objects.

ES256 keys from ``cryptography``, CBOR from ``cbor2`` (both the gateway's dependencies through
py_webauthn); "none" attestation. authenticatorData = rpIdHash | flags | signCount |
attestedCredentialData (registration only). Every field a test may want to get wrong (origin,
RP id, user verification, counter, challenge) can be overridden per call.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Passkey:
    credential_id: bytes
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    rp_id: str
    counter: int = 0

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps({
            1: 2, 3: -7, -1: 1,
            -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big"),
        })


@dataclass
class SoftAuthenticator:
    """Holds passkeys like a phone would; ``origin`` is where the browser says it runs."""

    origin: str
    passkeys: list[Passkey] = field(default_factory=list)
    synced: bool = False  # backup eligible and backed up: a synced passkey

    def _flags(self, uv: bool, extra: int = 0) -> int:
        flags = UP | extra | (UV if uv else 0)
        return flags | (BE | BS if self.synced else 0)

    @staticmethod
    def _client_data(kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps({
            "type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False,
        }).encode()

    def create(
        self, options: dict[str, Any], *, origin: str | None = None, rp_id: str | None = None,
        uv: bool = True, challenge: str | None = None,
    ) -> dict[str, Any]:
        """The browser's ``navigator.credentials.create()`` result (toJSON form)."""
        rp = rp_id or options["rp"]["id"]
        passkey = Passkey(
            credential_id=secrets.token_bytes(32),
            key=ec.generate_private_key(ec.SECP256R1()),
            user_handle=unb64u(options["user"]["id"]),
            rp_id=rp,
        )
        client_data = self._client_data(
            "webauthn.create", challenge or options["challenge"], origin or self.origin
        )
        attested = (
            bytes(16) + struct.pack(">H", len(passkey.credential_id)) + passkey.credential_id
            + passkey.cose_public_key()
        )
        auth_data = (
            hashlib.sha256(rp.encode()).digest()
            + bytes([self._flags(uv, AT)]) + struct.pack(">I", passkey.counter) + attested
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        self.passkeys.append(passkey)
        return {
            "id": b64u(passkey.credential_id),
            "rawId": b64u(passkey.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64u(client_data),
                "attestationObject": b64u(attestation),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }

    def get(
        self, options: dict[str, Any], passkey: Passkey | None = None, *,
        origin: str | None = None, rp_id: str | None = None, uv: bool = True,
        counter: int | None = None, challenge: str | None = None,
    ) -> dict[str, Any]:
        """The browser's ``navigator.credentials.get()`` result (toJSON form)."""
        passkey = passkey or self.passkeys[-1]
        if counter is None:
            passkey.counter += 1
            counter = passkey.counter
        rp = rp_id or options.get("rpId") or passkey.rp_id
        client_data = self._client_data(
            "webauthn.get", challenge or options["challenge"], origin or self.origin
        )
        auth_data = (
            hashlib.sha256(rp.encode()).digest() + bytes([self._flags(uv)])
            + struct.pack(">I", counter)
        )
        signature = passkey.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64u(passkey.credential_id),
            "rawId": b64u(passkey.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64u(client_data),
                "authenticatorData": b64u(auth_data),
                "signature": b64u(signature),
                "userHandle": b64u(passkey.user_handle),
            },
            "clientExtensionResults": {},
            "authenticatorAttachment": "platform",
        }
