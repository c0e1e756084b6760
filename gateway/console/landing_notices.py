"""One-time notices a product shows on the page a person lands on after the Console sent
them there (linking or creating their product user), instead of a Console flash that would
turn up later on an unrelated Console page.

The landing address gets ``?gw_notice=<token>``: an ES256 JWT from the active assertion key,
typed ``notice+jwt``, for that product (``aud``), that Console user (``sub``) and that page
(``htp``), 60 seconds, with a code (``ntc``), never text: the product verifies it with the
vendored ``gateway/assertion.py`` (``verify_notice``, once) and shows its own words for a code
it knows. A forged, copied, replayed or other person's notice shows nothing.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit

import jwt
from flask import current_app

from gateway.assertion import ALGORITHM, NOTICE_PARAM, NOTICE_TYPE
from gateway.keys import key_store
from gateway.products.table import BadPath, Product, normalise_path, products
from gateway.web.ids import unique_id

LIFETIME = 60


def with_notice(landing: str, product: Product, console_user_id: str, code: str) -> str | None:
    """``landing`` (a safe return path) carrying the notice ``code`` for ``product`` to show,
    or None when that page is not the product's (the caller says it in the Console then)."""
    parts = urlsplit(landing)
    try:
        route = products().route(normalise_path(parts.path))
    except BadPath:
        return None
    if route is None or route.product.name != product.name or route.bare:
        return None
    key = key_store().signing_key()
    issued = int(time.time())
    token = jwt.encode(
        {
            "iss": current_app.config["PUBLIC_URL"].rstrip("/"),
            "aud": product.name,
            "sub": console_user_id,
            "ntc": code,
            "iat": issued,
            "exp": issued + LIFETIME,
            "jti": unique_id(),
            "htm": "GET",
            "htp": route.path,
        },
        key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": NOTICE_TYPE},
    )
    query = (parts.query + "&" if parts.query else "") + urlencode({NOTICE_PARAM: token})
    return f"{parts.path}?{query}"
