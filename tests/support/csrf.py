"""The CSRF token of a form, read one way by every suite.

Tests keep CSRF switched on (the gateway's and the products' forms), so a test posts a form as
a browser does: it reads the token from the page it just opened. One pattern here, so a change
to how the token is rendered breaks one place, not six.
"""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient

#: The hidden field as Flask-WTF (gateway) and the product kit render it.
_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]*)"')


def csrf_from(page: str) -> str:
    """The token in the form on ``page`` (HTML text)."""
    found = _FIELD.search(page)
    assert found and found.group(1), "no CSRF token on the page"
    return found.group(1)


def without_csrf(page: str) -> str:
    """``page`` with its token left out: two renderings of one page compare equal (the token
    differs on every page; nothing else may, e.g. whether an account exists)."""
    return _FIELD.sub('name="csrf_token"', page)


def csrf_token(client: FlaskClient, path: str, **get: Any) -> str:
    """The token of the form on ``path``, opened with a Flask test client (``get`` goes to
    ``client.get``, e.g. ``base_url``)."""
    page = client.get(path, **get).get_data(as_text=True)
    assert _FIELD.search(page), f"no CSRF token on {path}"
    return csrf_from(page)
