"""The key directory every gateway instance shares: ES256 private keys and their rotation state.

Layout of ``ASSERTION_KEY_DIR`` (default ``instance/keys``, mode 0700):

- ``<kid>.pem``: one P-256 private key (PKCS#8 PEM, mode 0600); ``demo-insecure-<kid>.pem``
  for a demo key, which production refuses to sign with;
- ``keys.json``: the state of each key, written atomically (readers never see half a file).

States, in the order the JWKS lists them: ``staged`` (published, not signing), ``active`` (the
one key that signs), ``previous`` (signed until the last promote, still published), ``retiring``
(published until ``until``: one assertion lifetime plus the JWKS max-age after ``retire``).
A ``kid`` is the key's RFC 7638 thumbprint. Processes re-read the state within a second of a
change; private key material is never logged or printed.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

STATE_FILE = "keys.json"
LOCK_FILE = ".lock"
DEMO_PREFIX = "demo-insecure-"
#: JWKS order: what a verifier should learn first comes first.
STATES = ("staged", "active", "previous", "retiring")


class NoSigningKey(RuntimeError):
    """The key directory has no active key (run ``flask keys init``)."""


class KeyStateError(RuntimeError):
    """A rotation step that does not fit the current state (e.g. promote with nothing staged)."""


@dataclass(frozen=True)
class Entry:
    kid: str
    state: str
    demo: bool = False
    #: For ``retiring``: Unix time after which the key leaves the JWKS.
    until: float | None = None

    @property
    def filename(self) -> str:
        return (DEMO_PREFIX if self.demo else "") + self.kid + ".pem"


@dataclass(frozen=True)
class SigningKey:
    kid: str
    private_key: ec.EllipticCurvePrivateKey
    demo: bool


def public_jwk(public_key: ec.EllipticCurvePublicKey) -> dict[str, str]:
    """The RFC 7517 public JWK of a P-256 key, ``kid`` = its RFC 7638 SHA-256 thumbprint."""
    numbers = public_key.public_numbers()
    jwk = {
        "crv": "P-256",
        "kty": "EC",
        "x": _b64(numbers.x.to_bytes(32, "big")),
        "y": _b64(numbers.y.to_bytes(32, "big")),
    }
    # RFC 7638: the required members, lexicographic order, no whitespace.
    canonical = json.dumps(jwk, sort_keys=True, separators=(",", ":")).encode()
    return jwk | {"kid": _b64(hashlib.sha256(canonical).digest()), "alg": "ES256", "use": "sig"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class KeyStore:
    """Reads (every gateway process) and changes (``flask keys``) one key directory."""

    def __init__(
        self, folder: str, interval: float = 1.0, clock: Callable[[], float] = time.time
    ) -> None:
        self.folder = folder
        self.interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._stamp: tuple[int, int] | None = None
        self._entries: tuple[Entry, ...] = ()
        self._private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self._jwks: dict[str, dict[str, str]] = {}

    # --- reading -------------------------------------------------------------------------
    def entries(self) -> tuple[Entry, ...]:
        """Every key's state, re-read from disk at most once per ``interval``."""
        now = time.monotonic()
        if now - self._checked >= self.interval:
            with self._lock:
                # Marked fresh only once the reload is done: a thread arriving meanwhile waits
                # here instead of reading the (at first empty) state mid-reload.
                if now - self._checked >= self.interval:
                    self._reload()
                    self._checked = now
        return self._entries

    def signing_key(self) -> SigningKey:
        for entry in self.entries():
            if entry.state == "active":
                return SigningKey(entry.kid, self._private[entry.kid], entry.demo)
        raise NoSigningKey(f"no active key in {self.folder}")

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK Set: staged, active, previous, then retiring keys still in grace."""
        now = self._clock()
        entries = self.entries()
        published = [
            self._jwks[e.kid]
            for state in STATES
            for e in entries
            if e.state == state and (e.until is None or e.until > now)
        ]
        return {"keys": published}

    def _reload(self) -> None:
        path = os.path.join(self.folder, STATE_FILE)
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            self._stamp, self._entries = None, ()
            return
        stamp = (stat.st_mtime_ns, stat.st_size)
        if stamp == self._stamp:
            return
        entries = self._read_state()
        for entry in entries:
            if entry.kid not in self._private:
                key = self._load_private(entry)
                self._private[entry.kid] = key
                self._jwks[entry.kid] = public_jwk(key.public_key())
        self._stamp, self._entries = stamp, entries

    def _read_state(self) -> tuple[Entry, ...]:
        with open(os.path.join(self.folder, STATE_FILE), encoding="utf-8") as handle:
            document = json.load(handle)
        return tuple(
            Entry(str(e["kid"]), str(e["state"]), bool(e.get("demo")), e.get("until"))
            for e in document["keys"]
        )

    def _load_private(self, entry: Entry) -> ec.EllipticCurvePrivateKey:
        with open(os.path.join(self.folder, entry.filename), "rb") as handle:
            key = serialization.load_pem_private_key(handle.read(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
            raise ValueError(f"{entry.filename} is not a P-256 private key")
        return key

    # --- changing (under a file lock: one operator step at a time) -------------------------
    @contextlib.contextmanager
    def _changing(self) -> Iterator[list[Entry]]:
        """The current entries, to edit in place; written back atomically on success."""
        os.makedirs(self.folder, mode=0o700, exist_ok=True)
        with open(os.path.join(self.folder, LOCK_FILE), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = os.path.join(self.folder, STATE_FILE)
            entries = list(self._read_state()) if os.path.exists(path) else []
            before = list(entries)
            yield entries
            if entries != before:
                self._write_state(entries)
                for gone in set(before) - set(entries):
                    if gone.kid not in {e.kid for e in entries}:
                        with contextlib.suppress(FileNotFoundError):
                            os.remove(os.path.join(self.folder, gone.filename))
        self._checked = float("-inf")  # this process sees its own change at once

    def _write_state(self, entries: list[Entry]) -> None:
        document: dict[str, Any] = {
            "keys": [
                {"kid": e.kid, "state": e.state}
                | ({"demo": True} if e.demo else {})
                | ({"until": e.until} if e.until is not None else {})
                for e in entries
            ]
        }
        handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=".keys-")
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(document, out, indent=1)
        os.chmod(temporary, 0o600)
        os.replace(temporary, os.path.join(self.folder, STATE_FILE))

    def _new_key(self, state: str, demo: bool) -> Entry:
        private_key = ec.generate_private_key(ec.SECP256R1())
        entry = Entry(public_jwk(private_key.public_key())["kid"], state, demo)
        pem = private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(
            os.path.join(self.folder, entry.filename), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600
        )
        with os.fdopen(fd, "wb") as out:
            out.write(pem)
        return entry

    def ensure(self, demo: bool) -> bool:
        """Create an active key if there is none (safe when several processes start at once).
        Returns whether a key was created."""
        with self._changing() as entries:
            if any(e.state == "active" for e in entries):
                return False
            entries.append(self._new_key("active", demo))
            return True

    def init(self) -> Entry:
        """The first, non-demo key; refused when the directory already has an active key."""
        with self._changing() as entries:
            if any(e.state == "active" for e in entries):
                raise KeyStateError(f"{self.folder} already has an active key")
            entry = self._new_key("active", demo=False)
            entries.append(entry)
            return entry

    def stage(self) -> Entry:
        """Step 1: a new key in the JWKS, not signing yet."""
        with self._changing() as entries:
            if not any(e.state == "active" for e in entries):
                raise KeyStateError("no active key; run 'flask keys init' first")
            if any(e.state == "staged" for e in entries):
                raise KeyStateError("a key is already staged; promote it first")
            entry = self._new_key("staged", demo=False)
            entries.insert(0, entry)
            return entry

    def promote(self) -> Entry:
        """Step 2: the staged key signs; the active one becomes ``previous`` (still published)."""
        with self._changing() as entries:
            staged = [e for e in entries if e.state == "staged"]
            if not staged:
                raise KeyStateError("no staged key; run 'flask keys stage' first")
            for index, entry in enumerate(entries):
                if entry.state == "active":
                    entries[index] = Entry(entry.kid, "previous", entry.demo)
                elif entry.state == "staged":
                    entries[index] = Entry(entry.kid, "active", entry.demo)
            return Entry(staged[0].kid, "active")

    def retire(self, grace: float) -> list[Entry]:
        """Step 3: ``previous`` keys leave the JWKS after ``grace`` seconds; keys whose grace
        is over are deleted (state and PEM file). Returns the keys now retiring."""
        now = self._clock()
        with self._changing() as entries:
            entries[:] = [e for e in entries if e.until is None or e.until > now]
            for index, entry in enumerate(entries):
                if entry.state == "previous":
                    entries[index] = Entry(entry.kid, "retiring", entry.demo, now + grace)
            return [e for e in entries if e.state == "retiring"]
