"""The products behind the gateway: prefix, upstream, SCIM token, how a public path maps to them.

Built once per app from the checked entries of ``PRODUCTS_FILE`` (``config/products_file.py``)
and the SCIM token each linked entry names. Routing works on a normalised path so that encoded
dot-segments, doubled slashes or a differently cased prefix cannot reach an internal product
path. A backslash is refused rather than read as ``/``: nginx and Caddy route on it as an
ordinary character, and one request must never be routed to one product by the edge and
authorised for another by the gateway (``/segment/..\\sendgrid\\settings``); the shipped edge
configurations refuse it too, before routing.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.cookiejar import DefaultCookiePolicy
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import requests
import urllib3
from flask import Flask, current_app
from requests.adapters import HTTPAdapter

from config.gateway import PRODUCT_SPECS
from config.products_file import LinkedAccounts, ProductSpec
from gateway.web.request_line import PATH_SAFE

#: Concurrent pooled connections kept per upstream (one gunicorn worker's threads).
POOL_SIZE = 64

_EXT = "gateway.products"


class BadPath(ValueError):
    """A path that cannot be normalised safely (control characters, endless encoding)."""


class _NoCookies(DefaultCookiePolicy):
    """Cookie policy that stores nothing: the pooled session is shared by every user."""

    def set_ok(self, cookie, request):  # type: ignore[no-untyped-def]
        return False

    def return_ok(self, cookie, request):  # type: ignore[no-untyped-def]
        return False


def make_pool() -> urllib3.PoolManager:
    """The proxy's upstream pool: urllib3 directly (``requests`` costs a third more CPU per
    proxied request in a profile), no environment proxies, no cookies, no retries."""
    return urllib3.PoolManager(num_pools=2, maxsize=POOL_SIZE, block=False, retries=False)


def make_session() -> requests.Session:
    """The product API client (linking, SCIM: ``gateway/products/api.py``): ``requests``,
    pooled, no environment proxies, no cookie jar, no retries, no default headers."""
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(_NoCookies())
    session.headers.clear()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def normalise_path(path: str) -> str:
    """Percent-decode until stable, drop empty and dot segments.

    The result is what routing sees and what is forwarded, so the product receives exactly
    the path the gateway checked. A trailing slash is kept. What another server could read
    differently is refused: a backslash (a character to nginx and Caddy, ``/`` to others) and
    the segments :func:`_ambiguous` names.
    """
    decoded = path
    for _ in range(4):
        once = unquote(decoded, errors="replace")
        if once == decoded:
            break
        decoded = once
    else:
        raise BadPath("nested percent-encoding")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in decoded):
        raise BadPath("control character in path")
    if "\\" in decoded:
        raise BadPath("backslash in path")
    segments: list[str] = []
    for segment in decoded.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        if _ambiguous(segment):
            raise BadPath("ambiguous path segment")
        segments.append(segment)
    result = "/" + "/".join(segments)
    tail = decoded.rsplit("/", 1)[-1]
    if segments and tail in ("", ".", ".."):
        result += "/"
    return result


def _ambiguous(segment: str) -> bool:
    """Matrix parameters (``..;``, which Tomcat or Jetty resolve as ``..``), a slash or ``;``
    after NFKC, or nothing left once compared (``...``, ``. ``, fullwidth dots)."""
    folded = unicodedata.normalize("NFKC", segment)
    return any(ch in folded for ch in ";/\\") or not folded.rstrip(". ")


def _key(path: str) -> tuple[str, ...]:
    """Comparison form of a normalised path: NFKC, lower case, no trailing dots or spaces.

    Every segment of a normalised path keeps a non-empty key (:func:`_ambiguous`).
    """
    out = []
    for segment in unicodedata.normalize("NFKC", path).split("/"):
        segment = segment.lower().rstrip(". ")
        if segment:
            out.append(segment)
    return tuple(out)


def _startswith(path_key: tuple[str, ...], rule: str) -> bool:
    rule_key = _key(rule)
    if rule.endswith("/"):
        return path_key[: len(rule_key)] == rule_key and len(path_key) > len(rule_key)
    return path_key[: len(rule_key)] == rule_key


@dataclass(frozen=True)
class Product:
    name: str
    prefix: str
    upstream: str
    scim_token: str = field(repr=False)
    #: Reachable without a Console session and forwarded without an assertion.
    public_paths: tuple[str, ...]
    #: Never reachable through the gateway (provisioning, linking checks, health).
    internal_paths: tuple[str, ...]
    #: How people see it (switcher, linking pages, audit wording).
    title: str = ""
    #: Its own users to link (SCIM, linking endpoint, container word), or None: any signed-in
    #: Console user may enter and the assertion alone says who (``accounts = "none"``).
    linked: LinkedAccounts | None = None
    session: requests.Session = field(default_factory=make_session, compare=False, repr=False)
    pool: urllib3.PoolManager = field(default_factory=make_pool, compare=False, repr=False)

    @property
    def origin(self) -> tuple[str, str]:
        parts = urlsplit(self.upstream)
        return parts.scheme.lower(), parts.netloc.lower()

    def is_internal(self, path: str) -> bool:
        path_key = _key(path)
        return any(_startswith(path_key, rule) for rule in self.internal_paths)

    def is_public(self, path: str) -> bool:
        path_key = _key(path)
        return any(_startswith(path_key, rule) for rule in self.public_paths)

    @property
    def has_accounts(self) -> bool:
        """True when the product has its own users, linked to Console users."""
        return self.linked is not None

    def api_url(self, endpoint: str) -> str:
        """An endpoint of the entry (``/scim/v2``: on the upstream; or an absolute URL)."""
        return self.upstream + endpoint if endpoint.startswith("/") else endpoint

    def upstream_url(self, path: str, query: bytes) -> str:
        base = self.upstream.rstrip("/")
        url = base + quote(path, safe=PATH_SAFE)
        if query:
            url += "?" + query.decode("latin-1")
        return url


@dataclass(frozen=True)
class Route:
    product: Product
    #: Path the product receives (prefix stripped, normalised); also the path signed.
    path: str
    #: True for the bare prefix without its slash (answered with a redirect).
    bare: bool


class ProductTable:
    """Every product, found by its public prefix (compared case-insensitively)."""

    def __init__(self, products: Sequence[Product]) -> None:
        self.products = {p.name: p for p in products}
        self._by_key = [(_key(p.prefix), p) for p in products]

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.products.values())

    def get(self, name: str) -> Product | None:
        return self.products.get(name)

    def names(self) -> list[str]:
        return list(self.products)

    def title(self, name: str) -> str:
        """How people see product ``name`` (the name itself for one no longer listed)."""
        product = self.products.get(name)
        return product.title if product else name

    def titles(self) -> dict[str, str]:
        return {name: product.title for name, product in self.products.items()}

    def route(self, normalised: str) -> Route | None:
        path_key = _key(normalised)
        segments = [s for s in normalised.split("/") if s]
        for prefix_key, product in self._by_key:
            if path_key[: len(prefix_key)] != prefix_key or not prefix_key:
                continue
            rest = segments[len(prefix_key) :]  # one key per segment of a normalised path
            sub = "/" + "/".join(rest)
            if rest and normalised.endswith("/"):
                sub += "/"
            bare = not rest and not normalised.endswith("/")
            return Route(product, sub, bare)
        return None

    def close(self) -> None:
        for product in self.products.values():
            product.session.close()
            product.pool.clear()


def product_from(spec: ProductSpec, config: Mapping[str, Any]) -> Product:
    """The runtime record of one checked entry, with its SCIM token from the settings."""
    return Product(
        name=spec.name,
        prefix=spec.prefix,
        upstream=spec.upstream,
        scim_token=str(config[spec.linked.scim_token_env]) if spec.linked else "",
        public_paths=spec.public_paths,
        internal_paths=spec.internal_paths,
        title=spec.title,
        linked=spec.linked,
    )


def build_table(config: Mapping[str, Any]) -> ProductTable:
    """The product table from gateway settings (``config.gateway.load_settings``)."""
    return ProductTable([product_from(spec, config) for spec in config[PRODUCT_SPECS]])


def init_app(app: Flask) -> None:
    """Build the product table once per app from its settings."""
    app.extensions[_EXT] = build_table(app.config)


def products(app: Flask | None = None) -> ProductTable:
    """The product table of ``app`` (default: the current app)."""
    table: ProductTable = (app or current_app).extensions[_EXT]
    return table


def upstream_health(table: ProductTable) -> dict[str, str]:
    """For ``/readyz``: a product that keeps ``/healthz`` internal answers 200 there within a
    second; any other (a plain app without that page) answers its root below 500."""
    checks = {}
    for product in table:
        probe, healthy = "/", range(100, 500)
        if product.is_internal("/healthz"):
            probe, healthy = "/healthz", range(200, 201)
        try:
            with product.session.get(product.upstream + probe, timeout=1) as answer:
                checks[product.name] = "ok" if answer.status_code in healthy else "unavailable"
        except requests.RequestException:
            checks[product.name] = "unavailable"
    return checks
