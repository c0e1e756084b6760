"""Verifying the gateway's identity assertion: the one module a product team vendors.

Dependencies: Python 3.10+, PyJWT and cryptography (``pip install "pyjwt[crypto]"``); nothing
from the gateway, no web framework. Copy this file into a product.

The gateway sends ``X-Identity-Assertion: <JWT>`` with every request it forwards: a compact JWS
(RFC 7515/7519) signed ES256 with a ``kid`` header, verifiable with the public key set it
publishes at ``/.well-known/jwks.json`` (RFC 7517). A product holds no secret: it fetches that
set (:class:`RemoteJwks`, cached per its ``Cache-Control: max-age``; an unknown ``kid`` triggers
one rate-limited refresh) or reads a pinned copy (:class:`JwksFile`, air-gapped deployments).

Claims: ``iss`` (the gateway's public URL), ``aud`` (the product), ``sub`` (Console user),
``email``, ``puid`` (product user), ``sid`` (gateway session), ``amr`` (RFC 8176), ``iat``,
``exp`` (at most 60 s later), ``jti``, ``htm``/``htp`` (method and path as the product receives
them), ``idp`` (optional: the identity provider's issuer when the person signed in through their
organization's single sign-on; ``amr`` then starts with ``fed``), ``lnk`` (optional: product ->
linked, for the Product Switcher), ``fwd`` (optional: the
X-Forwarded-* values sent with the request, ``{"for", "proto", "host", "prefix"}``; a product
believes those headers only as signed here or, on public paths that carry no assertion, in the
``X-Forwarded-Signature`` proof, a JWT typed ``fwd+jwt``: see ``verify_forwarded``).
After linking, the page a person lands on may carry ``?gw_notice=<JWT typed notice+jwt>``, a
one-time code for that page and person that the product words itself: see ``verify_notice``.

Backend example (Flask)::

    from assertion import HEADER, AssertionVerifier, InvalidAssertion, RemoteJwks

    verifier = AssertionVerifier(
        audience="segment",
        issuer="https://login.example.com",
        keys=RemoteJwks("http://gateway.internal:5000/.well-known/jwks.json"),
    )

    @app.before_request
    def identify():
        try:
            g.identity = verifier.verify(
                request.headers.get(HEADER), method=request.method, path=request.path
            )
        except InvalidAssertion:
            g.identity = None  # answer 401 on protected pages; never fall back to anything else
"""

from __future__ import annotations

import heapq
import ipaddress
import json
import logging
import os
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import jwt
from jwt import PyJWK

HEADER = "X-Identity-Assertion"
#: The gateway's proof of the X-Forwarded-* values it sends on requests without an assertion
#: (public pages; with one, its ``fwd`` claim vouches for them): ``verify_forwarded``.
FORWARDED_HEADER = "X-Forwarded-Signature"
ALGORITHM = "ES256"
#: Explicit JWT types (RFC 8725 section 3.11): one kind of token is never accepted as the other.
ASSERTION_TYPE = "JWT"
FORWARDED_TYPE = "fwd+jwt"
#: A one-time notice for the page a person lands on (``verify_notice``), carried in the query
#: parameter ``NOTICE_PARAM``: a code the product maps to its own words, never text to show.
NOTICE_TYPE = "notice+jwt"
NOTICE_PARAM = "gw_notice"
#: Tolerated clock difference between gateway and product, in seconds.
DEFAULT_SKEW = 5
#: Longest assertion lifetime (``exp - iat``) a verifier accepts, in seconds.
MAX_LIFETIME = 60
#: Larger headers are refused before any parsing (a real assertion is about 700 bytes).
MAX_TOKEN_LENGTH = 8192
#: JWKS refresh bounds: without Cache-Control, after an error, and between unknown-kid refreshes.
DEFAULT_JWKS_MAX_AGE = 300
MAX_JWKS_MAX_AGE = 24 * 3600
REFRESH_INTERVAL = 10.0

log = logging.getLogger(__name__)

#: ``name[:port]`` or ``[IPv6][:port]``, in the characters Werkzeug accepts in a Host header.
_HOST = re.compile(
    r"(?:(?P<name>[A-Za-z0-9.-]+)|\[(?P<ip6>[0-9A-Fa-f:.]+)\])(?::(?P<port>[1-9][0-9]{0,4}))?"
)


def valid_host(value: str) -> bool:
    """A ``Host`` (or forwarded host) that URLs can be built from.

    The gateway signs no ``X-Forwarded-Host`` that fails this and answers 400 to such a Host;
    a product answers 400 to one too: one rule on both sides. Beyond the characters Werkzeug
    accepts, every DNS label is 1 to 63 characters and the name at most 253 (RFC 1035), since
    Werkzeug's ``url_for`` raises on a longer label (its IDNA step), every label decodes as
    IDNA (Werkzeug's ``uri_to_iri`` raises on ``xn--a`` or ``xn--abc-``), and the port is a
    number from 1 to 65535.
    """
    match = _HOST.fullmatch(value)
    if match is None or int(match["port"] or 1) > 65535:
        return False
    if match["ip6"] is not None:
        try:
            ipaddress.IPv6Address(match["ip6"])
        except ValueError:
            return False
        return True
    name = match["name"].removesuffix(".")
    return len(name) <= 253 and all(_idna_label(label) for label in name.split("."))


def _idna_label(label: str) -> bool:
    """1 to 63 characters that Python's IDNA codec decodes, as Werkzeug will. Lowercased first,
    as Werkzeug's ``urlsplit(...).hostname`` is: the codec passes ``XN--`` through unchecked
    but refuses ``xn--zca`` (it does not round-trip)."""
    if not 0 < len(label) <= 63:
        return False
    try:
        label.lower().encode("ascii").decode("idna")
    except UnicodeError:
        return False
    return True


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
    expires_at: int
    assertion_id: str
    #: Product name -> linked, for the Product Switcher; None when the gateway sent no claim.
    links: Mapping[str, bool] | None = field(default=None, compare=False)
    #: The X-Forwarded-* values the gateway sent with this request (``fwd``: ``{"for": ...,
    #: "proto": ..., "host": ..., "prefix": ...}``); None when the assertion has no such claim.
    forwarded: Mapping[str, str] | None = field(default=None, compare=False)
    #: The identity provider of a single sign-on (``idp``); None for the gateway's own sign-in.
    idp: str | None = field(default=None, compare=False)


class KeySource(Protocol):
    """Where a verifier finds the public key named by an assertion's ``kid``."""

    def get(self, kid: str) -> PyJWK | None: ...


def parse_jwks(document: object) -> dict[str, PyJWK]:
    """``kid`` -> key for every usable ES256 signing key (P-256 EC) in a JWK Set."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise ValueError("not a JWK Set")
    keys: dict[str, PyJWK] = {}
    for jwk in document["keys"]:
        if not isinstance(jwk, dict) or not isinstance(jwk.get("kid"), str):
            continue
        if jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            continue
        if jwk.get("alg", ALGORITHM) != ALGORITHM or jwk.get("use", "sig") != "sig":
            continue
        try:
            keys[jwk["kid"]] = PyJWK(jwk, algorithm=ALGORITHM)
        except jwt.PyJWTError:
            continue
    return keys


class StaticJwks:
    """A JWK Set given as a dict (tests, or keys loaded some other way)."""

    def __init__(self, document: Mapping[str, Any]) -> None:
        self._keys = parse_jwks(dict(document))

    def get(self, kid: str) -> PyJWK | None:
        return self._keys.get(kid)


class JwksFile:
    """A pinned JWK Set file (``flask --app gateway keys jwks > jwks.json``), re-read when it
    changes, so copying the new file during a rotation needs no restart."""

    def __init__(self, path: str, interval: float = 1.0) -> None:
        self.path = path
        self.interval = interval
        self._lock = threading.Lock()
        self._checked = float("-inf")
        self._stamp: tuple[int, int] | None = None
        self._keys: dict[str, PyJWK] = {}

    def get(self, kid: str) -> PyJWK | None:
        now = time.monotonic()
        if now - self._checked >= self.interval:
            with self._lock:
                self._checked = now
                self._reload()
        return self._keys.get(kid)

    def _reload(self) -> None:
        try:
            stat = os.stat(self.path)
            stamp = (stat.st_mtime_ns, stat.st_size)
            if stamp == self._stamp:
                return
            with open(self.path, encoding="utf-8") as handle:
                self._keys = parse_jwks(json.load(handle))
            self._stamp = stamp
        except (OSError, ValueError) as exc:  # half-copied or unreadable: keep the last good set
            log.error("JWKS file %s unusable: %s", self.path, exc)


def fetch_jwks(url: str, timeout: float) -> tuple[bytes, int | None]:
    """GET ``url`` (no environment proxies: it is the gateway's internal address); the body
    and the ``Cache-Control`` max-age, if any."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(urllib.request.Request(url), timeout=timeout) as answer:
        body = answer.read(256 * 1024 + 1)
        if len(body) > 256 * 1024:
            raise ValueError("JWK Set too large")
        return body, _max_age(answer.headers.get("Cache-Control", ""))


def _max_age(cache_control: str) -> int | None:
    for directive in cache_control.split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.strip().isdigit():
            return int(value.strip())
    return None


class RemoteJwks:
    """The gateway's JWK Set over HTTP, cached for its ``max-age``.

    An unknown ``kid`` triggers a refresh only if the last fetch is ``refresh_interval``
    seconds old, so a flood of bogus ``kid`` values costs the gateway at most one request per
    interval. A failed fetch keeps the keys already known (they are public keys; the gateway
    drops retired ones from the set, which this cache notices at the next refresh).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 2.0,
        refresh_interval: float = REFRESH_INTERVAL,
        fetch: Callable[[str, float], tuple[bytes, int | None]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.refresh_interval = refresh_interval
        self._fetch = fetch
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, PyJWK] = {}
        self._expires = float("-inf")
        self._attempted = float("-inf")
        #: Number of fetch attempts (for tests and metrics).
        self.fetches = 0

    def get(self, kid: str) -> PyJWK | None:
        with self._lock:
            now = self._clock()
            if now >= self._expires:
                self._refresh(now)
            key = self._keys.get(kid)
            if key is None and now - self._attempted >= self.refresh_interval:
                self._refresh(now)
                key = self._keys.get(kid)
            return key

    def _refresh(self, now: float) -> None:
        self._attempted = now
        self.fetches += 1
        try:
            body, max_age = self._fetch(self.url, self.timeout)
            self._keys = parse_jwks(json.loads(body))
        except Exception as exc:  # noqa: BLE001 - network, HTTP, JSON: all mean "no new keys"
            log.warning("JWKS fetch from %s failed: %s", self.url, exc)
            self._expires = now + self.refresh_interval
            return
        age = DEFAULT_JWKS_MAX_AGE if max_age is None else max_age
        self._expires = now + min(age, MAX_JWKS_MAX_AGE)


class AssertionVerifier:
    """Verifies assertions for one product; thread-safe, keeps a per-process replay cache."""

    def __init__(
        self,
        audience: str,
        issuer: str,
        keys: KeySource,
        skew: int = DEFAULT_SKEW,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.audience = audience
        self.issuer = issuer
        self.keys = keys
        self.skew = skew
        self._clock = clock
        self._seen = ReplayCache(skew)
        #: JOSE header segment -> parsed header, for tokens that verified (see _verified_claims).
        self._headers: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def verify(self, token: str | None, *, method: str, path: str) -> Identity:
        """Return the identity in ``token`` or raise :class:`InvalidAssertion`.

        ``method`` and ``path`` are those of the request the product received; an assertion
        captured on one route cannot be replayed on another, nor twice on the same one.
        """
        claims = self._verified_claims(
            token, ASSERTION_TYPE, ["iss", "aud", "sub", "iat", "exp", "jti"], method, path
        )
        try:
            identity = Identity(
                console_user_id=_text(claims["sub"]),
                email=_text(claims["email"]),
                product=_text(claims["aud"]),
                product_user_id=_text(claims["puid"]),
                session_id=_text(claims["sid"]),
                auth_methods=tuple(_text(m) for m in _list(claims["amr"])),
                issued_at=claims["iat"],
                expires_at=claims["exp"],
                assertion_id=_text(claims["jti"]),
                links=_links(claims.get("lnk")),
                forwarded=_forwarded(claims.get("fwd")),
                idp=None if claims.get("idp") is None else _text(claims["idp"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidAssertion("malformed assertion") from exc
        self._remember(identity.assertion_id, identity.expires_at)
        return identity

    def verify_forwarded(self, token: str | None, *, method: str, path: str) -> dict[str, str]:
        """The X-Forwarded-* values (``{"for": ..., "proto": ..., "host": ..., "prefix": ...}``)
        the gateway signed for this request, or raise :class:`InvalidAssertion`.

        No replay cache: a copy only repeats what the gateway vouched for, on the same method
        and path, within the token's lifetime.
        """
        claims = self._verified_claims(
            token, FORWARDED_TYPE, ["iss", "aud", "iat", "exp"], method, path
        )
        try:
            forwarded = _forwarded(claims.get("fwd"))
        except ValueError as exc:
            raise InvalidAssertion("malformed forwarded values") from exc
        if forwarded is None:
            raise InvalidAssertion("malformed forwarded values")
        return forwarded

    def verify_notice(self, token: str | None, *, console_user_id: str, path: str) -> str:
        """The notice code the gateway signed for this person's GET of ``path`` (after linking,
        ``created`` or ``linked``), usable once; raise :class:`InvalidAssertion`.

        Bound to the product (``aud``), the Console user the request's assertion names
        (``sub``) and the landing page (``htp``), typed ``notice+jwt``, spent in the replay
        cache: a copied link shows nothing to anyone else, nor twice. Show only words of the
        product's own for a code it knows; an unknown code shows nothing.
        """
        claims = self._verified_claims(
            token, NOTICE_TYPE, ["iss", "aud", "sub", "iat", "exp", "jti"], "GET", path
        )
        code, subject = claims.get("ntc"), claims.get("sub")
        if not isinstance(code, str) or subject != console_user_id:
            raise InvalidAssertion("notice for another person")
        self._remember(_text(claims["jti"]), claims["exp"])
        return code

    def _verified_claims(
        self, token: str | None, typ: str, required: list[str], method: str, path: str
    ) -> dict[str, Any]:
        """The claims of ``token``, checked for type, algorithm, key, signature, issuer,
        audience, time and the request (``htm``/``htp``)."""
        if not token:
            raise InvalidAssertion("missing assertion")
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidAssertion("assertion too large")
        # The JOSE header of every token one gateway key signs is the same segment: remember the
        # parsed headers of tokens that verified, so the usual token is parsed once, by
        # jwt.decode_complete below (whose header must then be the one checked here).
        segment = token.partition(".")[0]
        header = self._headers.get(segment)
        if header is None:
            try:
                header = jwt.get_unverified_header(token)
            except jwt.PyJWTError as exc:
                raise InvalidAssertion("malformed assertion") from exc
        # Only ES256: refuses "none", and HS256 keyed with the public key (algorithm confusion).
        if header.get("alg") != ALGORITHM:
            raise InvalidAssertion("algorithm not allowed")
        if header.get("typ", ASSERTION_TYPE) != typ:
            raise InvalidAssertion("another kind of token")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid or len(kid) > 128:
            raise InvalidAssertion("no key id")
        key = self.keys.get(kid)
        if key is None:
            raise InvalidAssertion("unknown key")
        try:
            decoded = jwt.decode_complete(
                token,
                key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.skew,
                options={"require": required},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidAssertion("expired assertion") from exc
        except jwt.ImmatureSignatureError as exc:
            raise InvalidAssertion("assertion from the future") from exc
        except (jwt.InvalidAudienceError, jwt.InvalidIssuerError) as exc:
            raise InvalidAssertion("assertion for another issuer or product") from exc
        except jwt.InvalidSignatureError as exc:
            raise InvalidAssertion("bad signature") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise InvalidAssertion("malformed assertion") from exc
        if decoded["header"] != header:  # cannot happen: the same bytes parse the same
            raise InvalidAssertion("malformed assertion")
        if segment not in self._headers:
            with self._lock:
                if len(self._headers) >= 64:  # a handful of keys in use; never grows unbounded
                    self._headers.clear()
                self._headers[segment] = header
        claims: dict[str, Any] = decoded["payload"]
        if claims["aud"] != self.audience:  # a list naming several products is not for us alone
            raise InvalidAssertion("assertion for another issuer or product")
        if not isinstance(claims["iat"], int) or not isinstance(claims["exp"], int):
            raise InvalidAssertion("malformed assertion")
        if claims["exp"] - claims["iat"] > MAX_LIFETIME:
            raise InvalidAssertion("assertion lifetime too long")
        if claims.get("htm") != method.upper() or claims.get("htp") != path:
            raise InvalidAssertion("assertion for another request")
        return claims

    def _remember(self, assertion_id: str, expires_at: int) -> None:
        """Refuse a second use of one assertion id while it could still verify (this process)."""
        if not self._seen.spend(assertion_id, float(expires_at), self._clock()):
            raise InvalidAssertion("assertion replayed")


class ReplayCache:
    """Assertion ids already used, each kept until it could no longer verify anyway.

    Expiries sit in a heap, so each use forgets only what has expired since the last one:
    constant work per request however many assertions are live (a full sweep per request once
    10,000 were live made a busy product's CPU grow with its traffic).
    """

    def __init__(self, skew: int) -> None:
        self.skew = skew
        self._ids: set[str] = set()
        self._expiries: list[tuple[float, str]] = []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._ids)

    def spend(self, assertion_id: str, expires_at: float, now: float) -> bool:
        """Record a use of ``assertion_id``; False when it was used before."""
        with self._lock:
            while self._expiries and self._expiries[0][0] + self.skew < now:
                self._ids.discard(heapq.heappop(self._expiries)[1])
            if assertion_id in self._ids:
                return False
            self._ids.add(assertion_id)
            heapq.heappush(self._expiries, (expires_at, assertion_id))
            return True


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected a string claim")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise TypeError("expected a list claim")
    return value


def _links(value: object) -> dict[str, bool] | None:
    """The optional ``lnk`` claim; absent is None, malformed is refused."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, bool) for k, v in value.items()
    ):
        raise ValueError("malformed links claim")
    return dict(value)


def _forwarded(value: object) -> dict[str, str] | None:
    """The ``fwd`` claim (forwarded values); absent is None, malformed is refused."""
    if value is None:
        return None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("malformed forwarded values")
    return dict(value)
