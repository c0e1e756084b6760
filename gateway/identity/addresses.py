"""Email canonicalisation, applied before every lookup, uniqueness check and throttle key.

Decision: addresses are NFKC-normalised, trimmed and lower-cased, and must then be plain ASCII
with exactly one ``@`` (internationalised domains are entered in their ``xn--`` form). Full-width
and other compatibility look-alikes thereby collapse onto the one account they imitate, and
confusable scripts (Cyrillic ``а`` for Latin ``a``) are refused instead of becoming a second
account that looks the same.
"""

from __future__ import annotations

import re
import unicodedata

MAX_LENGTH = 254
_ADDRESS = re.compile(
    r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}"
    r"@(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)+$"
)


def canonical_email(value: object) -> str | None:
    """The canonical form of ``value``, or None when it is not an acceptable address."""
    if not isinstance(value, str) or len(value) > 4 * MAX_LENGTH:
        return None
    email = unicodedata.normalize("NFKC", value).strip().lower()
    if len(email) > MAX_LENGTH or not email.isascii() or not _ADDRESS.match(email):
        return None
    local = email.split("@", 1)[0]
    if local.startswith(".") or local.endswith(".") or ".." in local:
        return None
    return email
