"""The identity assertion: what the gateway signs and what a product verifies.

This is the one module a product team vendors (copy the file; it needs only itsdangerous).
The gateway signs one short-lived assertion per proxied request with that product's own key
list; the product verifies it and trusts nothing else about who the user is.

Keys are ordered oldest to newest. itsdangerous signs with the last key and verifies with any,
so rotation is: append a new key on the product (it now accepts both), then on the gateway (it
now signs with the new one), then drop the old key from both.

Backend example (Flask)::

    from gateway.assertion import AssertionVerifier, InvalidAssertion

    keys = os.environ["SEGMENT_ASSERTION_KEYS"].split(",")
    verifier = AssertionVerifier(audience="segment", keys=keys)
    # or, for rotation without restarts: keys=KeyFile("instance/keys/segment.keys", keys)

    @app.before_request
    def identify():
        header = request.headers.get("X-Identity-Assertion")
        try:
            g.identity = verifier.verify(header, method=request.method, path=request.path)
        except InvalidAssertion:
            g.identity = None  # answer 401 on protected pages; never fall back to anything else
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

HEADER = "X-Identity-Assertion"
#: The gateway's signature over the X-Forwarded-* values it sends (every proxied request, public
#: pages included): a product believes those headers only with it (see :meth:`verify_forwarded`).
FORWARDED_HEADER = "X-Forwarded-Signature"
ISSUER = "unified-login-gateway"
#: Salts separate purposes; they are public. The keys are what separate products.
SALT = "unified-login.identity-assertion.v1"
FORWARDED_SALT = "unified-login.forwarded.v1"
SALTS = (SALT, FORWARDED_SALT)
DEFAULT_MAX_AGE = 30
#: Tolerated clock difference between gateway and product, in seconds.
DEFAULT_SKEW = 5


class InvalidAssertion(Exception):
    """The assertion is missing, forged, expired, for another product or another request."""


@dataclass(frozen=True)
class Identity:
    """Who the gateway says is making this request."""

    console_user_id: str
    email: str
    product: str
    product_user_id: str
    session_id: str
    auth_methods: tuple[str, ...]
    issued_at: int
    assertion_id: str
    #: Product name -> linked, for the Product Switcher; None when the gateway sent no claim.
    links: Mapping[str, bool] | None = field(default=None, compare=False)


def _serializer(keys: Sequence[str], salt: str = SALT) -> URLSafeTimedSerializer:
    if not keys or not all(keys):
        raise ValueError("an assertion key list needs at least one non-empty key")
    return URLSafeTimedSerializer(list(keys), salt=salt)


def sign_assertion(
    keys: Sequence[str],
    *,
    product: str,
    console_user_id: str,
    email: str,
    product_user_id: str,
    session_id: str,
    auth_methods: Sequence[str],
    method: str,
    path: str,
    links: Mapping[str, bool] | None = None,
) -> str:
    """Return the header value for one upstream request (signed with the newest key).

    ``links`` (optional ``lnk`` claim) tells the product which products this person is linked
    to, so the product renders the Product Switcher itself: the gateway never rewrites the
    HTML it streams, and the state arrives signed with the request it belongs to.
    """
    payload: dict[str, object] = {
        "iss": ISSUER,
        "aud": product,
        "sub": console_user_id,
        "email": email,
        "puid": product_user_id,
        "sid": session_id,
        "amr": list(auth_methods),
        "iat": int(time.time()),
        "jti": uuid.uuid4().hex,
        "htm": method.upper(),
        "htp": path,
    }
    if links is not None:
        payload["lnk"] = {str(name): bool(linked) for name, linked in links.items()}
    return _serializer(keys).dumps(payload)


def sign_forwarded(
    keys: Sequence[str], *, product: str, method: str, path: str, forwarded: Mapping[str, str]
) -> str:
    """The ``X-Forwarded-Signature`` value: ``forwarded`` (``{"for": ..., "proto": ...,
    "host": ..., "prefix": ...}``) signed for one request, like the assertion but for anyone."""
    payload = {
        "iss": ISSUER,
        "aud": product,
        "htm": method.upper(),
        "htp": path,
        "fwd": {str(name): str(value) for name, value in forwarded.items()},
    }
    return _serializer(keys, FORWARDED_SALT).dumps(payload)


class KeyFile:
    """A product's key list kept in a file, re-read when the file changes (zero-downtime rotation).

    One key per line, oldest first; ``#`` starts a comment. A line ``+<key>`` is a *staged* key:
    verifiers accept it, the gateway does not sign with it yet. Rotation is: stage a new key,
    wait until every process re-read the file, promote it (the gateway now signs with it), wait
    one assertion lifetime, retire the older keys. Without the file, ``fallback`` (the
    configured list) is used. Pass ``keys=KeyFile(...)`` to :class:`AssertionVerifier`.
    """

    def __init__(self, path: str, fallback: Sequence[str] = (), interval: float = 1.0) -> None:
        self.path = path
        self.fallback = list(fallback)
        self.interval = interval
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._stamp: tuple[int, int] | None = None
        self._keys: tuple[list[str], list[str]] = (self.fallback, self.fallback)

    def __call__(self) -> list[str]:
        return self.accepted()

    def accepted(self) -> list[str]:
        """Every key a verifier accepts, staged ones included, oldest to newest."""
        return self._load()[0]

    def signing(self) -> list[str]:
        """The keys without staged ones: the last is the one to sign with."""
        return self._load()[1]

    def _load(self) -> tuple[list[str], list[str]]:
        now = time.monotonic()
        if now - self._checked < self.interval:
            return self._keys
        with self._lock:
            self._checked = now
            try:
                stat = os.stat(self.path)
            except OSError:
                self._stamp, self._keys = None, (self.fallback, self.fallback)
                return self._keys
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp != self._stamp:
                try:
                    with open(self.path, encoding="utf-8") as handle:
                        accepted, active = parse_key_lines(handle.read().splitlines())
                except (OSError, UnicodeDecodeError) as exc:
                    # Unreadable (permissions, half-copied): keep the last good keys.
                    logging.getLogger(__name__).error("key file %s unreadable: %s", self.path, exc)
                    return self._keys
                if active:
                    self._stamp, self._keys = stamp, (accepted, active)
            return self._keys


def parse_key_lines(lines: Sequence[str]) -> tuple[list[str], list[str]]:
    """(accepted keys, signing keys) from key-file lines, each oldest to newest."""
    accepted: list[str] = []
    active: list[str] = []
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key = line.removeprefix("+").strip()
        if not key:
            continue
        if not line.startswith("+"):
            active.append(key)
        accepted.append(key)
    # A staged key is accepted but never the signing one: move staged keys before active ones
    # so itsdangerous (which signs with the last key) could never pick them.
    return [k for k in accepted if k not in active] + active, active


class AssertionVerifier:
    """Verifies assertions for one product; thread-safe, keeps a per-process replay cache.

    ``keys`` is a list, or a callable returning one (a :class:`KeyFile`) for live rotation.
    """

    def __init__(
        self,
        audience: str,
        keys: Sequence[str] | Callable[[], Sequence[str]],
        max_age: int = DEFAULT_MAX_AGE,
        skew: int = DEFAULT_SKEW,
    ) -> None:
        self.audience = audience
        self.max_age = max_age
        self.skew = skew
        self._key_source = keys if callable(keys) else None
        self._keys = tuple(keys() if callable(keys) else keys)
        self._serializers = {salt: _serializer(self._keys, salt) for salt in SALTS}
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def _current_serializer(self, salt: str = SALT) -> URLSafeTimedSerializer:
        if self._key_source is not None:
            keys = tuple(self._key_source())
            if keys != self._keys:
                self._keys = keys
                self._serializers = {s: _serializer(keys, s) for s in SALTS}
        return self._serializers[salt]

    def _payload(self, token: str | None, salt: str, method: str, path: str) -> dict[str, Any]:
        """The signed payload, checked for key, age, issuer, product, method and path."""
        if not token:
            raise InvalidAssertion("missing assertion")
        if len(token) > 8192:
            raise InvalidAssertion("assertion too large")
        try:
            payload, signed_at = self._current_serializer(salt).loads(token, return_timestamp=True)
        except (BadSignature, ValueError, TypeError) as exc:
            raise InvalidAssertion("bad signature") from exc
        age = time.time() - signed_at.timestamp()
        if age < -self.skew or age > self.max_age + self.skew:
            raise InvalidAssertion("expired assertion")
        if not isinstance(payload, dict):
            raise InvalidAssertion("malformed assertion")
        if payload.get("iss") != ISSUER or payload.get("aud") != self.audience:
            raise InvalidAssertion("assertion for another issuer or product")
        if payload.get("htm") != method.upper() or payload.get("htp") != path:
            raise InvalidAssertion("assertion for another request")
        return payload

    def verify_forwarded(self, token: str | None, *, method: str, path: str) -> dict[str, str]:
        """The X-Forwarded-* values the gateway signed for this request, or raise.

        No replay cache: a copy only repeats the values the gateway vouched for, on the same
        method and path, within the assertion lifetime.
        """
        forwarded = self._payload(token, FORWARDED_SALT, method, path).get("fwd")
        if not isinstance(forwarded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in forwarded.items()
        ):
            raise InvalidAssertion("malformed forwarded values")
        return dict(forwarded)

    def verify(self, token: str | None, *, method: str, path: str) -> Identity:
        """Return the identity in ``token`` or raise :class:`InvalidAssertion`.

        ``method`` and ``path`` are those of the request the product received; an assertion
        captured on one route cannot be replayed on another, nor twice on the same one.
        """
        payload = self._payload(token, SALT, method, path)
        try:
            identity = Identity(
                console_user_id=str(payload["sub"]),
                email=str(payload["email"]),
                product=str(payload["aud"]),
                product_user_id=str(payload["puid"]),
                session_id=str(payload["sid"]),
                auth_methods=tuple(str(m) for m in payload["amr"]),
                issued_at=int(payload["iat"]),
                assertion_id=str(payload["jti"]),
                links=_links(payload.get("lnk")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidAssertion("malformed assertion") from exc
        self._remember(identity.assertion_id)
        return identity

    def _remember(self, assertion_id: str) -> None:
        """Refuse a second use of one assertion id within its lifetime (in this process)."""
        now = time.monotonic()
        horizon = self.max_age + 2 * self.skew
        with self._lock:
            if len(self._seen) > 10_000:
                self._seen = {k: t for k, t in self._seen.items() if now - t < horizon}
            seen_at = self._seen.get(assertion_id)
            if seen_at is not None and now - seen_at < horizon:
                raise InvalidAssertion("assertion replayed")
            self._seen[assertion_id] = now


def _links(value: object) -> dict[str, bool] | None:
    """The optional ``lnk`` claim; absent (older gateways) is None, malformed is refused."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, bool) for k, v in value.items()
    ):
        raise ValueError("malformed links claim")
    return dict(value)
