"""The products behind the gateway: prefix, upstream, SCIM token, how a public path maps to them.

Built once per app from configuration (``<NAME>_PREFIX``, ``<NAME>_UPSTREAM``,
``<NAME>_SCIM_TOKEN``, optional ``<NAME>_PUBLIC_PATHS`` and ``<NAME>_INTERNAL_PATHS``). Routing
works on a normalised path so that encoded dot-segments, backslashes, doubled slashes or a
differently cased prefix cannot reach an internal product path.
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

#: Concurrent pooled connections kept per upstream (one gunicorn worker's threads).
POOL_SIZE = 64

_EXT = "gateway.products"

_PATH_SAFE = "/:@!$&'()*+,;=-._~"


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
    """A pooled upstream client: no environment proxies, no cookie jar, no retries."""
    session = requests.Session()
    session.trust_env = False
    session.cookies.set_policy(_NoCookies())
    session.headers.clear()  # forward what the browser sent, not requests' defaults
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=POOL_SIZE, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def normalise_path(path: str) -> str:
    """Percent-decode until stable, read ``\\`` as ``/``, drop empty and dot segments.

    The result is what routing sees and what is forwarded, so the product receives exactly
    the path the gateway checked. A trailing slash is kept. Segments that another server could
    read differently are refused (see :func:`_ambiguous`).
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
    decoded = decoded.replace("\\", "/")
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

    def upstream_url(self, path: str, query: bytes) -> str:
        base = self.upstream.rstrip("/")
        url = base + quote(path, safe=_PATH_SAFE)
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


def build_table(config: Mapping[str, Any], names: Sequence[str]) -> ProductTable:
    """The product table from gateway settings."""
    products = []
    for name in names:
        upper = name.upper()
        prefix = "/" + str(config[f"{upper}_PREFIX"]).strip("/")
        products.append(
            Product(
                name=name,
                prefix=prefix,
                upstream=str(config[f"{upper}_UPSTREAM"]).rstrip("/"),
                scim_token=str(config[f"{upper}_SCIM_TOKEN"]),
                public_paths=_paths(config[f"{upper}_PUBLIC_PATHS"]),
                internal_paths=_paths(config[f"{upper}_INTERNAL_PATHS"]),
            )
        )
    return ProductTable(products)


def _paths(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    raise TypeError(f"expected a list of paths, not {value!r}")


def init_app(app: Flask) -> None:
    """Build the product table once per app from its settings (``PRODUCTS`` names them)."""
    table = build_table(app.config, app.config["PRODUCTS"])
    app.extensions[_EXT] = table


def products(app: Flask | None = None) -> ProductTable:
    """The product table of ``app`` (default: the current app)."""
    table: ProductTable = (app or current_app).extensions[_EXT]
    return table


def upstream_health(table: ProductTable) -> dict[str, str]:
    """For ``/readyz``: each product's ``/healthz`` answers 200 within a second."""
    checks = {}
    for product in table:
        try:
            with product.session.get(product.upstream + "/healthz", timeout=1) as answer:
                checks[product.name] = "ok" if answer.status_code == 200 else "unavailable"
        except requests.RequestException:
            checks[product.name] = "unavailable"
    return checks
