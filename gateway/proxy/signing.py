"""Where the gateway signs: one ES256 JWT per upstream request, with the active key, that also
vouches for the X-Forwarded-* values it sends (so a product can tell them from a client's own):
the identity assertion's ``fwd`` claim, or on public paths (no assertion) a ``fwd+jwt`` proof.

The claim set is described in ``gateway/assertion.py`` (the verifier products vendor).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

from jwt.api_jws import PyJWS

from gateway.assertion import ALGORITHM, ASSERTION_TYPE, FORWARDED_HEADER, FORWARDED_TYPE
from gateway.keys.store import KeyStore, SigningKey
from gateway.products.table import Product, ProductTable
from gateway.proxy.decision import Principal
from gateway.web.ids import unique_id

#: PyJWT's JWS half: the payload comes serialised (claims built once per session, above).
_JWS = PyJWS()
#: Session claims kept per signer: at most this many (people x products) before starting over.
_SESSIONS_REMEMBERED = 10_000


def session_claims(
    *,
    issuer: str,
    product: str,
    console_user_id: str,
    email: str,
    product_user_id: str,
    session_id: str,
    auth_methods: Sequence[str],
    links: Mapping[str, bool] | None = None,
    idp: str | None = None,
) -> bytes:
    """The claims that stay the same for one person, session and product, as a JSON object:
    built once per session and product (:class:`Signer`), spliced by :func:`_signed` with the
    ones every request gets fresh."""
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": product,
        "sub": console_user_id,
        "email": email,
        "puid": product_user_id,
        "sid": session_id,
        "amr": list(auth_methods),
    }
    if idp is not None:
        claims["idp"] = idp
    if links is not None:
        claims["lnk"] = {str(name): bool(linked) for name, linked in links.items()}
    return _json(claims)


def _signed(fixed: bytes, fresh: dict[str, object], key: SigningKey, typ: str) -> str:
    """One compact JWS over the claims ``fixed`` (a JSON object with none of ``fresh``'s
    names) and ``fresh``, both serialised by ``json``; PyJWT builds and signs the token."""
    payload = fixed[:-1] + b"," + _json(fresh)[1:] if len(fixed) > 2 else _json(fresh)
    return _JWS.encode(payload, key.private_key, algorithm=ALGORITHM,
                       headers={"kid": key.kid, "typ": typ})


def _json(claims: Mapping[str, object]) -> bytes:
    return json.dumps(claims, separators=(",", ":")).encode()


def _fresh(method: str, path: str, lifetime: int, now: int | None) -> dict[str, object]:
    """What no two requests share: when (``iat``, ``exp``) and for what (``htm``, ``htp``)."""
    issued = int(time.time()) if now is None else now
    return {"iat": issued, "exp": issued + lifetime, "htm": method.upper(), "htp": path}


def sign_assertion(
    key: SigningKey,
    *,
    issuer: str,
    product: str,
    console_user_id: str,
    email: str,
    product_user_id: str,
    session_id: str,
    auth_methods: Sequence[str],
    method: str,
    path: str,
    lifetime: int = 30,
    links: Mapping[str, bool] | None = None,
    forwarded: Mapping[str, str] | None = None,
    now: int | None = None,
    idp: str | None = None,
) -> str:
    """The compact JWS for one upstream request (``method`` and ``path`` as the product
    receives them). ``links`` (``lnk``) tells the product which products this person is
    linked to, so it renders the Product Switcher itself. ``forwarded`` (``fwd``): the
    X-Forwarded-* values sent with it, so no separate ``X-Forwarded-Signature`` is needed.
    ``idp`` (``idp``): the identity provider of a single sign-on session."""
    fixed = session_claims(
        issuer=issuer, product=product, console_user_id=console_user_id, email=email,
        product_user_id=product_user_id, session_id=session_id, auth_methods=auth_methods,
        links=links, idp=idp,
    )
    return assertion_from(fixed, key, method=method, path=path, lifetime=lifetime,
                          forwarded=forwarded, now=now)


def assertion_from(
    fixed: bytes,
    key: SigningKey,
    *,
    method: str,
    path: str,
    lifetime: int,
    forwarded: Mapping[str, str] | None = None,
    now: int | None = None,
) -> str:
    """:func:`sign_assertion` from claims :func:`session_claims` built before."""
    fresh = _fresh(method, path, lifetime, now)
    fresh["jti"] = unique_id()  # never one twice: the product's replay cache keys on it
    if forwarded is not None:
        fresh["fwd"] = {str(name): str(value) for name, value in forwarded.items()}
    return _signed(fixed, fresh, key, ASSERTION_TYPE)


def sign_forwarded(
    key: SigningKey,
    *,
    issuer: str,
    product: str,
    method: str,
    path: str,
    forwarded: Mapping[str, str],
    lifetime: int = 30,
    now: int | None = None,
) -> str:
    """The ``X-Forwarded-Signature`` value: ``forwarded`` (``{"for": ..., "proto": ...,
    "host": ..., "prefix": ...}``) signed for one request, typed ``fwd+jwt`` so it can never
    pass for an identity assertion (nor one for it)."""
    fresh = _fresh(method, path, lifetime, now)
    fresh["fwd"] = {str(name): str(value) for name, value in forwarded.items()}
    return _signed(_json({"iss": issuer, "aud": product}), fresh, key, FORWARDED_TYPE)


def forwarded_values(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """``{"for": ..., "proto": ..., "host": ..., "prefix": ...}`` from the ``X-Forwarded-*``
    ones among ``headers``."""
    return {
        name[len("x-forwarded-") :].lower(): value
        for name, value in headers
        if name.lower().startswith("x-forwarded-")
    }


class Signer:
    """Signs for the proxy with the active key of ``keys``: ``issuer`` (the public URL),
    ``lifetime`` seconds, and the switcher state (``lnk``) over every product in ``table``."""

    def __init__(self, keys: KeyStore, issuer: str, lifetime: int, table: ProductTable) -> None:
        self.keys = keys
        self.issuer = issuer.rstrip("/")
        self.lifetime = int(lifetime)
        self.table = table
        #: (product, principal) -> its session claims; principals are values (frozen), so a
        #: changed email, link or session is a new key, never a stale entry.
        self._fixed: dict[tuple[str, Principal], bytes] = {}
        self._lock = threading.Lock()

    def assertion(
        self,
        product: Product,
        principal: Principal,
        method: str,
        path: str,
        forwarded: Iterable[tuple[str, str]] | None = None,
    ) -> str:
        """The ``X-Identity-Assertion`` value for ``method path`` as the product will receive
        it; with ``forwarded`` (headers), it also vouches for the X-Forwarded-* ones among them
        (the ``fwd`` claim), in place of :meth:`forwarded_proof`."""
        if principal.product_user_id is None:
            raise ValueError("no assertion for a user not linked to " + product.name)
        return assertion_from(
            self._session_claims(product, principal), self.keys.signing_key(),
            method=method, path=path, lifetime=self.lifetime,
            forwarded=None if forwarded is None else forwarded_values(forwarded),
        )

    def _session_claims(self, product: Product, principal: Principal) -> bytes:
        key = (product.name, principal)
        fixed = self._fixed.get(key)
        if fixed is None:
            assert principal.product_user_id is not None
            fixed = session_claims(
                issuer=self.issuer,
                product=product.name,
                console_user_id=principal.user_id,
                email=principal.email,
                product_user_id=principal.product_user_id,
                session_id=principal.session_public_id,
                auth_methods=principal.auth_methods,
                links={p.name: p.name in principal.linked or not p.has_accounts
                       for p in self.table},
                idp=principal.idp,
            )
            with self._lock:
                if len(self._fixed) >= _SESSIONS_REMEMBERED:
                    self._fixed.clear()
                self._fixed[key] = fixed
        return fixed

    def forwarded_proof(
        self, product: Product, method: str, path: str, headers: Iterable[tuple[str, str]]
    ) -> tuple[str, str]:
        """The ``X-Forwarded-Signature`` header over the ``X-Forwarded-*`` ones among
        ``headers``.

        Sent on public paths (no assertion there; with one, its ``fwd`` claim carries the same
        values): a product honours X-Forwarded-* only with a proof, since on one host the
        gateway and a direct client share the same peer address.
        """
        proof = sign_forwarded(
            self.keys.signing_key(),
            issuer=self.issuer,
            product=product.name,
            method=method,
            path=path,
            forwarded=forwarded_values(headers),
            lifetime=self.lifetime,
        )
        return FORWARDED_HEADER, proof
