"""What a request line may hold: the one definition of a method token and of the characters a
path keeps unescaped when the gateway writes it out (to a product, or to an edge)."""

from __future__ import annotations

import re

#: RFC 9110 section 9.1: a method is a token. Anything else is the client's error.
METHOD = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
#: RFC 3986 ``pchar`` and ``/``: what ``quote`` leaves as it is in a path the gateway writes.
PATH_SAFE = "/:@!$&'()*+,;=-._~"
