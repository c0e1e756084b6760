"""Where the gateway signs: one assertion per upstream request, with the product's newest key."""

from __future__ import annotations

from gateway.assertion import sign_assertion
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
