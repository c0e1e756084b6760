"""The HTTP clients that talk to organizations' identity providers (discovery, keys, tokens,
userinfo; metadata for SAML): made here only, each for one sign-in and closed after it.

Unlike the product API's pooled client (``gateway.products.table``), these go to addresses an
organization's owner typed: no environment proxies, no redirects followed, no cookies kept,
a short timeout on every call (``TIMEOUT``), answers read up to ``MAX_ANSWER`` bytes.
"""

from __future__ import annotations

from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session

#: Seconds for each call to an identity provider.
TIMEOUT = 5
#: Largest answer read from an identity provider.
MAX_ANSWER = 512 * 1024


class _NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie, request):  # type: ignore[no-untyped-def]
        return False

    def return_ok(self, cookie, request):  # type: ignore[no-untyped-def]
        return False


def _harden(session: requests.Session) -> None:
    session.trust_env = False
    session.max_redirects = 0
    session.cookies.set_policy(_NoCookies())


def plain_session() -> requests.Session:
    session = requests.Session()
    _harden(session)
    return session


def oauth_session(**settings: Any) -> OAuth2Session:
    """Authlib's OAuth 2.0 client session (``settings``: its constructor's), hardened."""
    session = OAuth2Session(**settings)
    _harden(session)
    return session
