"""The products' copy of the gateway's return-path rule (gateway/web/return_paths.py), vendored
because products never import the gateway: the same code, run against the same corpus
(``tests/support/corpora.py``, ``tests/products/linking/test_return_paths.py``), which also
checks that the two copies do not drift apart.

A return path is accepted only if it is a relative path on the same origin. Everything else
(absolute URLs, ``//host``, ``/\\host``, schemes such as ``javascript:``, control characters,
encoded variants of those) falls back to a default.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

_MAX_LENGTH = 2048
_CONTROL = re.compile(r"[\x00-\x1f\x7f\s\\]")


def safe_return_path(value: object, default: str = "/") -> str:
    """Return ``value`` if it is a safe local path, else ``default``.

    Checked on the value and on its repeated percent-decodings, so that ``/%2F%2Fevil`` or
    ``/%5Cevil`` cannot become ``//evil`` after a later decode by a browser or proxy.
    """
    if not isinstance(value, str) or not value or len(value) > _MAX_LENGTH:
        return default
    decoded = value
    for _ in range(3):
        if not _looks_local(decoded):
            return default
        once = unquote(decoded)
        if once == decoded:
            break
        decoded = once
    else:
        return default  # still changing after several decodes: nested encoding, refuse
    path = urlsplit(decoded).path
    if path.startswith("/.") or "/../" in path or path.endswith("/.."):
        return default
    return value


def _looks_local(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//"):
        return False
    if _CONTROL.search(value):
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc
