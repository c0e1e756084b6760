"""Signing keys for tests: a key directory as the gateway keeps it, its JWKS, a stranger's key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import tempfile
from collections.abc import Callable

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from jwt import PyJWK

from gateway.assertion import StaticJwks
from gateway.keys.store import KeyStore, SigningKey, public_jwk

_shared: dict[str, KeyStore] = {}


def key_store(folder: str) -> KeyStore:
    """A key directory with one active key (re-read on every call: ``interval=0``)."""
    store = KeyStore(folder, interval=0)
    store.ensure(demo=False)
    return store


def shared_store() -> KeyStore:
    """One key directory for a whole test run (tests that do not rotate keys)."""
    if "store" not in _shared:
        _shared["store"] = key_store(tempfile.mkdtemp(prefix="assertion-keys-"))
    return _shared["store"]


def write_jwks(store: KeyStore, path: str) -> str:
    """The store's public JWK Set as a pinned file (what ``flask keys jwks`` prints)."""
    with open(path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(store.jwks(), handle)
    os.replace(path + ".tmp", path)
    return path


def stranger_key(kid: str | None = None) -> SigningKey:
    """A valid P-256 key no JWKS lists (a forger's); ``kid`` may claim a published one."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    return SigningKey(kid or public_jwk(private_key.public_key())["kid"], private_key, False)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def parts(token: str) -> tuple[dict, dict, str]:
    """(header, claims, signature segment) of a compact JWS, unverified."""
    header, claims, signature = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(claims + "==")),
        signature,
    )


def craft(header: dict, claims: dict, sign: Callable[[bytes], bytes] | None = None) -> str:
    """A compact JWS built by hand, as an attacker would (``sign`` of the signing input)."""
    signing_input = (
        _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    ).encode()
    signature = sign(signing_input) if sign else b""
    return signing_input.decode() + "." + _b64(signature)


def hs256_with_public_key(store: KeyStore, token: str) -> str:
    """The algorithm-confusion attack: the claims re-signed HS256 keyed with the public key."""
    header, claims, _ = parts(token)
    public_pem = store.signing_key().private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return craft(
        {**header, "alg": "HS256"},
        claims,
        lambda data: hmac.new(public_pem, data, hashlib.sha256).digest(),
    )


class StoreJwks:
    """A product's view of a key directory's current JWKS, without HTTP (in-process tests)."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store

    def get(self, kid: str) -> PyJWK | None:
        return StaticJwks(self.store.jwks()).get(kid)
