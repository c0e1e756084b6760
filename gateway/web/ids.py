"""Ids that must be unique but need not be secret: request ids and assertion ids (``jti``).

128 bits from a generator of this module's own. ``uuid4()`` reads the system's random source on
every call, a system call that was 6 % of a forward-auth worker's CPU on the benchmark machine.
Uniqueness is all a ``jti`` needs (RFC 7519 4.1.7): it sits inside a signed token, so knowing
the next one forges nothing, and a product's replay cache only ever holds ids from tokens that
verified. The generator is seeded from the system's source at import and again in every forked
process, so workers never share a sequence; it is not the ``random`` module's shared one, which
any library (or Hypothesis, between examples) may seed with a constant.
"""

from __future__ import annotations

import os
import random

_generator = random.Random()  # seeded from os.urandom
os.register_at_fork(after_in_child=_generator.seed)


def unique_id() -> str:
    """32 hex digits, the shape of ``uuid4().hex``."""
    return f"{_generator.getrandbits(128):032x}"
