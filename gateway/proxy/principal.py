"""Who is asking: the signed-in person behind a proxied request, and their link to the product.

:class:`SessionChecks` is the decision core's :class:`~gateway.proxy.decision.SessionReader`:
the cookie's ``sid`` (read by the session interface, passed in), then one SELECT per request
(or a per-process cache hit, bounded by ``SESSION_CACHE_SECONDS``, and cleared at once when this
process revokes a session or changes a link). Each check enters the app context it is given
(the database session and the session lifetimes are the app's); the decision core never does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from time import monotonic
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from gateway.db import db
from gateway.identity.sessions import cache_epoch, is_live, token_digest
from gateway.models import LoginSession, ProductLink, User
from gateway.products.table import Product
from gateway.proxy.decision import Principal


class _PrincipalCache:
    """Per-process cache of session checks; bounds how late a revocation bites to ``ttl``."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._data: dict[tuple[str, str], tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self._epoch = 0

    def get(self, key: tuple[str, str]) -> Principal | None:
        if self.ttl <= 0:
            return None
        epoch = cache_epoch()
        if epoch != self._epoch:  # a revocation or link change here: forget everything now
            with self._lock:
                self._data.clear()
                self._epoch = epoch
            return None
        hit = self._data.get(key)
        if hit is None or hit[0] < monotonic():
            return None
        return hit[1]

    def put(self, key: tuple[str, str], principal: Principal) -> None:
        if self.ttl <= 0:
            return
        now = monotonic()
        with self._lock:
            if len(self._data) >= self.size:
                self._data = {k: v for k, v in self._data.items() if v[0] >= now}
                if len(self._data) >= self.size:
                    self._data.clear()
            self._data[key] = (now + self.ttl, principal)


class SessionChecks:
    """The session reader the factory builds: ``token_of`` reads the ``sid`` from a raw
    ``Cookie`` header (None when absent or forged); checks are cached for ``cache_seconds``;
    ``context`` enters the app whose database and settings the check reads."""

    def __init__(
        self,
        token_of: Callable[[str], object],
        cache_seconds: float,
        context: Callable[[], AbstractContextManager[Any]],
    ) -> None:
        self.token_of = token_of
        self.cache = _PrincipalCache(cache_seconds)
        self.context = context

    def principal(self, product: Product, cookie: str) -> Principal | None:
        if not cookie:
            return None
        token = self.token_of(cookie)
        if token is None:
            return None
        with self.context():
            return load_principal(product, token, self.cache)


def load_principal(
    product: Product, token: object, cache: _PrincipalCache
) -> Principal | None:
    """The person whose session ``token`` (the cookie's ``sid``) names, and their link to
    ``product``: one SELECT, or a cache hit."""
    digest = token_digest(token)
    if digest is None:
        return None
    cached = cache.get((digest, product.name))
    if cached is not None:
        return cached
    # One row per linked product (a few at most): this product's link and the switcher state.
    query = (
        select(LoginSession, ProductLink.product, ProductLink.product_user_id)
        .join(LoginSession.user)
        .outerjoin(ProductLink, ProductLink.user_id == User.id)
        .options(contains_eager(LoginSession.user))
        .where(LoginSession.id == digest, LoginSession.revoked_at.is_(None))
    )
    rows = db().execute(query).all()
    if not rows:
        return None
    record = rows[0][0]
    links = {name: puid for _, name, puid in rows if name is not None}
    # A product without accounts of its own has no link to wait for: its user is the
    # Console user, and the assertion (sub, email) alone says who.
    product_user_id = links.get(product.name) if product.has_accounts else record.user.id
    if not is_live(record) or not record.user.is_verified:
        return None
    principal = Principal(
        user_id=record.user.id,
        email=record.user.email,
        session_public_id=record.public_id,
        auth_methods=tuple(m for m in record.auth_methods.split(",") if m),
        product_user_id=product_user_id,
        linked=frozenset(links),
    )
    if product_user_id is not None:  # an unlinked person is about to link: never cache that
        cache.put((digest, product.name), principal)
    return principal
