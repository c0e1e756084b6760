"""The one decision behind every proxied request, whoever carries it out.

Both the built-in proxy (:mod:`gateway.proxy.dispatch`) and the forward-auth endpoints an edge
(nginx, Caddy, Traefik, Envoy) asks (:mod:`gateway.proxy.forward_auth`) call :func:`decide`
with the raw request path and query. It normalises the path once, routes it by prefix, refuses
internal product paths, checks the session and the link, and answers with a small
:class:`Decision`; the caller only turns it into HTTP. ``Decision.path`` is the path the
product must receive (prefix stripped, normalised): the assertion is signed for it and the
built-in proxy sends it, and an edge is told to send exactly it, so a request can never be
authorised for one path and forwarded to another.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from urllib.parse import urlencode

from gateway.products.table import BadPath, Product, normalise_path, products
from gateway.proxy.principal import Principal, load_principal
from gateway.web.return_paths import safe_return_path


class Verdict(enum.Enum):
    #: Not under any product prefix: the Console's business.
    NOT_PRODUCT = "not_product"
    #: Under a product prefix but not safely normalisable: 400.
    BAD_PATH = "bad_path"
    #: An internal product path (provisioning, linking checks, health): 404.
    REFUSED = "refused"
    #: The bare prefix (``/segment``): 308 to ``location`` (``/segment/``).
    CANONICAL = "canonical"
    #: No live session: browsers go to ``location`` (``/login?next=...``), API clients get 401.
    SIGN_IN = "sign_in"
    #: Signed in but not linked to this product: 302 to ``location`` (``/link/<product>?...``).
    LINK = "link"
    #: Forward ``path`` to ``product``; with an assertion when ``principal`` is set (a public
    #: product path such as ``/login`` is allowed without one).
    ALLOW = "allow"


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    product: Product | None = None
    #: The path the product receives (prefix stripped, normalised) and the assertion names.
    path: str = ""
    principal: Principal | None = None
    location: str = ""


_NOT_PRODUCT = Decision(Verdict.NOT_PRODUCT)
_BAD_PATH = Decision(Verdict.BAD_PATH)


def decide(raw_path: str, query: str, token: object) -> Decision:
    """Decide for ``raw_path`` (as the client sent it, percent-encoded or not) and ``query``,
    asked by the holder of session ``token`` (the cookie's ``sid``; None when signed out)."""
    table = products()
    try:
        path = normalise_path(raw_path)
    except BadPath:
        lowered = raw_path.lower()
        if any(p.prefix.lower().strip("/") in lowered for p in table):
            return _BAD_PATH
        return _NOT_PRODUCT
    route = table.route(path)
    if route is None:
        return _NOT_PRODUCT
    product = route.product
    if product.is_internal(route.path):
        return Decision(Verdict.REFUSED, product, route.path)
    suffix = "?" + query if query else ""
    if route.bare:
        return Decision(Verdict.CANONICAL, product, "/", location=product.prefix + "/" + suffix)
    if product.is_public(route.path):
        return Decision(Verdict.ALLOW, product, route.path)
    principal = load_principal(product, token)
    if principal is not None and principal.product_user_id is not None:
        return Decision(Verdict.ALLOW, product, route.path, principal)
    original = safe_return_path(product.prefix + route.path + suffix, default=product.prefix + "/")
    if principal is None:
        return Decision(
            Verdict.SIGN_IN, product, route.path,
            location="/login?" + urlencode({"next": original}),
        )
    return Decision(
        Verdict.LINK, product, route.path, principal,
        location="/link/" + product.name + "?" + urlencode({"next": original}),
    )
