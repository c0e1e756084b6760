"""Who is asking: the signed-in person behind a proxied request, and their link to the product.

:class:`SessionChecks` is the decision core's :class:`~gateway.proxy.decision.SessionReader`:
the cookie's ``sid`` (read by the session interface, passed in), then one SELECT per request
(or a per-process cache hit, bounded by ``SESSION_CACHE_SECONDS``, and cleared at once when this
process revokes a session or changes a link). Each check that reaches the database enters the
app context it is given (the database session and the session lifetimes are the app's); a cache
hit enters none, and the decision core never does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from hashlib import blake2b
from time import monotonic
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import contains_eager

from gateway.db import db
from gateway.identity.sessions import is_live, token_digest
from gateway.models import LoginSession, ProductLink, User
from gateway.products.table import Product
from gateway.proxy.decision import Principal


class _PrincipalCache:
    """Per-process cache of session checks; bounds how late a revocation bites to ``ttl``, and
    forgets everything when this process revokes a session or changes a link (``epoch``)."""

    def __init__(self, ttl: float, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._data: dict[tuple[bytes, str], tuple[float, Principal]] = {}
        self._lock = threading.Lock()
        self._epoch = 0

    def get(self, key: tuple[bytes, str], epoch: int) -> Principal | None:
        if self.ttl <= 0:
            return None
        if epoch != self._epoch:  # a revocation or link change here: forget everything now
            with self._lock:
                self._data.clear()
                self._epoch = epoch
            return None
        hit = self._data.get(key)
        if hit is None or hit[0] < monotonic():
            return None
        return hit[1]

    def put(self, key: tuple[bytes, str], principal: Principal, epoch: int) -> None:
        """Remember ``principal``, checked at ``epoch``: not if anything was revoked since."""
        if self.ttl <= 0:
            return
        now = monotonic()
        with self._lock:
            if epoch != self._epoch:
                return
            if len(self._data) >= self.size:
                self._data = {k: v for k, v in self._data.items() if v[0] >= now}
                if len(self._data) >= self.size:
                    self._data.clear()
            self._data[key] = (now + self.ttl, principal)


class SessionChecks:
    """The session reader the factory builds: ``token_of`` reads the ``sid`` from a raw
    ``Cookie`` header (None when absent or forged); checks are cached for ``cache_seconds``,
    keyed by a digest of the whole ``Cookie`` header, so a hit neither parses the cookie nor
    checks its signature nor enters ``context`` (the app whose database and settings a check
    reads); ``epoch`` reads the app's :func:`~gateway.identity.sessions.session_epoch`."""

    def __init__(
        self,
        token_of: Callable[[str], object],
        cache_seconds: float,
        context: Callable[[], AbstractContextManager[Any]],
        epoch: Callable[[], int],
    ) -> None:
        self.token_of = token_of
        self.cache = _PrincipalCache(cache_seconds)
        self.context = context
        self.epoch = epoch

    def principal(self, product: Product, cookie: str) -> Principal | None:
        if not cookie:
            return None
        # WSGI header values are latin-1 text: every one encodes.
        key = (blake2b(cookie.encode("latin-1"), digest_size=16).digest(), product.name)
        epoch = self.epoch()
        cached = self.cache.get(key, epoch)
        if cached is not None:
            return cached
        token = self.token_of(cookie)
        if token is None:
            return None
        with self.context():
            principal = load_principal(product, token)
        # An unlinked person is about to link: never cached.
        if principal is not None and principal.product_user_id is not None:
            self.cache.put(key, principal, epoch)
        return principal


def load_principal(product: Product, token: object) -> Principal | None:
    """The person whose session ``token`` (the cookie's ``sid``) names, and their link to
    ``product``: one SELECT."""
    digest = token_digest(token)
    if digest is None:
        return None
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
    return Principal(
        user_id=record.user.id,
        email=record.user.email,
        session_public_id=record.public_id,
        auth_methods=tuple(m for m in record.auth_methods.split(",") if m),
        product_user_id=product_user_id,
        linked=frozenset(links),
        idp=record.idp,
    )
