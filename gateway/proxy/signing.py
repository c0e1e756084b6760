"""Where the gateway signs: one ES256 JWT per upstream request, with the active key, that also
vouches for the X-Forwarded-* values it sends (so a product can tell them from a client's own):
the identity assertion's ``fwd`` claim, or on public paths (no assertion) a ``fwd+jwt`` proof.

The claim set is described in ``gateway/assertion.py`` (the verifier products vendor).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence

import jwt

from gateway.assertion import ALGORITHM, ASSERTION_TYPE, FORWARDED_HEADER, FORWARDED_TYPE
from gateway.keys.store import KeyStore, SigningKey
from gateway.products.table import Product, ProductTable
from gateway.proxy.decision import Principal
from gateway.web.ids import unique_id


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
) -> str:
    """The compact JWS for one upstream request (``method`` and ``path`` as the product
    receives them). ``links`` (``lnk``) tells the product which products this person is
    linked to, so it renders the Product Switcher itself. ``forwarded`` (``fwd``): the
    X-Forwarded-* values sent with it, so no separate ``X-Forwarded-Signature`` is needed."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, object] = {
        "iss": issuer,
        "aud": product,
        "sub": console_user_id,
        "email": email,
        "puid": product_user_id,
        "sid": session_id,
        "amr": list(auth_methods),
        "iat": issued,
        "exp": issued + lifetime,
        "jti": unique_id(),
        "htm": method.upper(),
        "htp": path,
    }
    if links is not None:
        claims["lnk"] = {str(name): bool(linked) for name, linked in links.items()}
    if forwarded is not None:
        claims["fwd"] = {str(name): str(value) for name, value in forwarded.items()}
    return jwt.encode(
        claims, key.private_key, algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": ASSERTION_TYPE},
    )


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
    issued = int(time.time()) if now is None else now
    claims = {
        "iss": issuer,
        "aud": product,
        "iat": issued,
        "exp": issued + lifetime,
        "htm": method.upper(),
        "htp": path,
        "fwd": {str(name): str(value) for name, value in forwarded.items()},
    }
    return jwt.encode(
        claims, key.private_key, algorithm=ALGORITHM,
        headers={"kid": key.kid, "typ": FORWARDED_TYPE},
    )


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
        return sign_assertion(
            self.keys.signing_key(),
            issuer=self.issuer,
            product=product.name,
            console_user_id=principal.user_id,
            email=principal.email,
            product_user_id=principal.product_user_id,
            session_id=principal.session_public_id,
            auth_methods=principal.auth_methods,
            method=method,
            path=path,
            lifetime=self.lifetime,
            links={p.name: p.name in principal.linked or not p.has_accounts for p in self.table},
            forwarded=None if forwarded is None else forwarded_values(forwarded),
        )

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
