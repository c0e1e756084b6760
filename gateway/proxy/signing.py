"""Where the gateway signs: one assertion per upstream request, with the product's newest key,
and the X-Forwarded-* values of every upstream request (so a product can tell them from a
client's own)."""

from __future__ import annotations

from collections.abc import Iterable

from gateway.assertion import FORWARDED_HEADER, sign_assertion, sign_forwarded
from gateway.products.table import Product, products
from gateway.proxy.principal import Principal


def assertion_for(product: Product, principal: Principal, method: str, path: str) -> str:
    """The ``X-Identity-Assertion`` value for ``method path`` as the product will receive it."""
    if principal.product_user_id is None:
        raise ValueError("no assertion for a user not linked to " + product.name)
    return sign_assertion(
        product.signing_keys(),
        product=product.name,
        console_user_id=principal.user_id,
        email=principal.email,
        product_user_id=principal.product_user_id,
        session_id=principal.session_public_id,
        auth_methods=principal.auth_methods,
        method=method,
        path=path,
        links={name: name in principal.linked for name in products().names()},
    )


def forwarded_proof(
    product: Product, method: str, path: str, headers: Iterable[tuple[str, str]]
) -> tuple[str, str]:
    """The ``X-Forwarded-Signature`` header over the ``X-Forwarded-*`` ones among ``headers``.

    Sent on public paths too (no assertion there): a product honours X-Forwarded-* only with
    it, since on one host the gateway and a direct client share the same peer address.
    """
    forwarded = {
        name[len("x-forwarded-") :].lower(): value
        for name, value in headers
        if name.lower().startswith("x-forwarded-")
    }
    proof = sign_forwarded(
        product.signing_keys(), product=product.name, method=method, path=path, forwarded=forwarded
    )
    return FORWARDED_HEADER, proof
