"""Ids that must be unique but need not be secret: request ids and assertion ids (``jti``).

128 bits from the ``random`` module. ``uuid4()`` reads the system's random source on every
call, a system call that was 6 % of a forward-auth worker's CPU on the benchmark machine.
Uniqueness is all a ``jti`` needs (RFC 7519 4.1.7): it sits inside a signed token, so knowing
the next one forges nothing, and a product's replay cache only ever holds ids from tokens that
verified. ``random`` is reseeded from the system's source in every forked process, so workers
never share a sequence.
"""

from __future__ import annotations

import random


def unique_id() -> str:
    """32 hex digits, the shape of ``uuid4().hex``."""
    return f"{random.getrandbits(128):032x}"
