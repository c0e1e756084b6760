"""The one decision behind every proxied request, whoever carries it out: framework-free.

Every way of asking (the built-in proxy, :mod:`gateway.proxy.forwarding`; nginx, Traefik/Caddy
and Envoy, :mod:`gateway.proxy.forward_auth`) reads a :class:`Question` from its own convention
and calls :func:`decide` with its dependencies passed in: who holds a session (a
:class:`SessionReader`) and the product table. Nothing here knows Flask, a request object or an
app. :func:`decide` normalises the path once, routes it by prefix, refuses
internal product paths, checks the session and the link, and answers with a small
:class:`Decision`; the caller only turns it into HTTP. ``Decision.path`` is the path the
product must receive (prefix stripped, normalised): the assertion is signed for it and the
built-in proxy sends it, and an edge is told to send exactly it, so a request can never be
authorised for one path and forwarded to another.
"""

from __future__ import annotations

import enum
import functools
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urlencode

from gateway.products.table import BadPath, Product, ProductTable, normalise_path
from gateway.web.return_paths import safe_return_path


@dataclass(frozen=True, slots=True)
class Question:
    """What every convention asks: the path as the client sent it (percent-encoded or not),
    its query, and the client's raw ``Cookie`` header (only a :class:`SessionReader` reads it)."""

    raw_path: str
    query: str
    cookie: str


@dataclass(frozen=True)
class Principal:
    """What the assertion needs about the signed-in person for one product."""

    user_id: str
    email: str
    session_public_id: str
    auth_methods: tuple[str, ...]
    #: The linked product user; the Console user for a product without accounts (``puid``).
    product_user_id: str | None
    #: Every product this person is linked to (the Product Switcher's state, in the assertion).
    linked: frozenset[str] = frozenset()
    #: The identity provider's issuer of a single sign-on session (the ``idp`` claim).
    idp: str | None = None


class SessionReader(Protocol):
    """Who holds the session a ``Cookie`` header names, and their link to ``product``."""

    def principal(self, product: Product, cookie: str) -> Principal | None: ...


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


def decide(question: Question, sessions: SessionReader, table: ProductTable) -> Decision:
    """Decide ``question`` against the products in ``table``; ``sessions`` is asked (once) only
    for a product path that needs a signed-in person."""
    routed = _routed(question.raw_path, table)
    if isinstance(routed, Decision):
        return routed
    product, path, bare, public = routed
    query = question.query
    suffix = "?" + query if query else ""
    if bare:
        return Decision(Verdict.CANONICAL, product, "/", location=product.prefix + "/" + suffix)
    if public:
        return Decision(Verdict.ALLOW, product, path)
    principal = sessions.principal(product, question.cookie)
    if principal is not None and principal.product_user_id is not None:
        return Decision(Verdict.ALLOW, product, path, principal)
    original = safe_return_path(product.prefix + path + suffix, default=product.prefix + "/")
    if principal is None:
        return Decision(
            Verdict.SIGN_IN, product, path,
            location="/login?" + urlencode({"next": original}),
        )
    return Decision(
        Verdict.LINK, product, path, principal,
        location="/link/" + product.name + "?" + urlencode({"next": original}),
    )


#: Where a path goes once routed: its product, the path it receives, whether it is the bare
#: prefix, whether it is public.
_Route = tuple[Product, str, bool, bool]
#: Paths longer than this are routed every time rather than remembered (bounds the memory).
_REMEMBERED_PATH_LENGTH = 512


def _routed(raw_path: str, table: ProductTable) -> Decision | _Route:
    """The part of the decision that depends on the path alone (and the table, which does not
    change while the app runs): remembered for the paths asked most (the same few pages are
    asked about again and again), computed afresh for long ones."""
    if len(raw_path) > _REMEMBERED_PATH_LENGTH:
        return _route_path(raw_path, table)
    return _remembered_route(raw_path, table)


def _route_path(raw_path: str, table: ProductTable) -> Decision | _Route:
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
    return product, route.path, route.bare, product.is_public(route.path)


_remembered_route = functools.lru_cache(maxsize=4096)(_route_path)
