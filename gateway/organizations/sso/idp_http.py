"""The HTTP clients that talk to organizations' identity providers (discovery, keys, tokens,
userinfo; metadata for SAML): made here only, each for one sign-in and closed after it.

Unlike the product API's pooled client (``gateway.products.table``), these go to addresses an
organization's owner typed: no environment proxies, no redirects followed, no cookies kept,
a short timeout on every call (``TIMEOUT``), answers read up to ``MAX_ANSWER`` bytes.

Decision (server-side request forgery): an owner's URL must not make the gateway call into
its own network. Each connection resolves the name itself, refuses it when **any** address
it resolves to is not a public unicast one (private, loopback, link-local, shared, multicast,
reserved, unspecified, documentation; an IPv4-mapped IPv6 address counts as its IPv4), and
then connects to the address it checked (``_PublicOnlyConnection``), so a name whose DNS
answer changes between the check and the connection (DNS rebinding) reaches nothing else. The
TLS server name, certificate check and ``Host`` stay the name typed. Refused:
:class:`RefusedDestination` (a ``requests.ConnectionError``, so every caller's "no answer"
path handles it; its message says why). Only the tests' switch
``plain_http_identity_providers`` lets the gateway call providers on loopback.
"""

from __future__ import annotations

import ipaddress
import socket
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session
from flask import current_app
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.connection import create_connection

from config.gateway import test_switches

#: Seconds for each call to an identity provider.
TIMEOUT = 5
#: Largest answer read from an identity provider.
MAX_ANSWER = 512 * 1024


class RefusedDestination(requests.ConnectionError):
    """The identity provider's name resolves to an address the gateway does not call."""


class _NotPublic(Exception):
    """Raised inside urllib3 (not an ``OSError``, so no retry or wrapping swallows it)."""


def is_public(address: str) -> bool:
    """Whether ``address`` (an IP literal, perhaps with an IPv6 zone) is public unicast."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def public_address(host: str, port: int) -> str:
    """The address to connect to for ``host``: resolved once, every answer checked; raises
    ``_NotPublic`` when one is not public, ``socket.gaierror`` when none."""
    answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [str(sockaddr[0]) for _f, _t, _p, _c, sockaddr in answers]
    refused = [a for a in addresses if not is_public(a)]
    if refused or not addresses:
        raise _NotPublic(f"{host} resolves to {', '.join(refused) or 'nothing'}, not a public "
                         f"address: the gateway calls identity providers on the internet only")
    return addresses[0]


class _PublicOnlyConnection(HTTPConnection):
    """Connects to the checked address of its host (never resolving it a second time)."""

    def _new_conn(self) -> socket.socket:
        try:
            address = public_address(self._dns_host, self.port)
        except socket.gaierror as failure:
            raise NameResolutionError(self.host, self, failure) from failure
        try:
            return create_connection((address, self.port), self.timeout,
                                     source_address=self.source_address,
                                     socket_options=self.socket_options)
        except TimeoutError as failure:
            raise ConnectTimeoutError(self, f"Connection to {self.host} timed out.") from failure
        except OSError as failure:
            raise NewConnectionError(self, f"Failed to connect: {failure}") from failure


class _PublicOnlyHTTPSConnection(_PublicOnlyConnection, HTTPSConnection):
    pass


class _PublicOnlyPool(HTTPConnectionPool):
    ConnectionCls = _PublicOnlyConnection


class _PublicOnlyHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _PublicOnlyHTTPSConnection


class _PublicOnlyAdapter(HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {  # type: ignore[assignment]
            "http": _PublicOnlyPool, "https": _PublicOnlyHTTPSPool}

    def send(self, request: requests.PreparedRequest, *args: Any,  # type: ignore[override]
             **kwargs: Any) -> requests.Response:
        try:
            return super().send(request, *args, **kwargs)
        except _NotPublic as refused:
            raise RefusedDestination(str(refused), request=request) from None


class _NoCookies(DefaultCookiePolicy):
    def set_ok(self, cookie, request):  # type: ignore[no-untyped-def]
        return False

    def return_ok(self, cookie, request):  # type: ignore[no-untyped-def]
        return False


def _harden(session: requests.Session) -> None:
    session.trust_env = False
    session.max_redirects = 0
    session.cookies.set_policy(_NoCookies())
    if not test_switches(current_app).plain_http_identity_providers:
        for scheme in ("https://", "http://"):
            session.mount(scheme, _PublicOnlyAdapter())


def plain_session() -> requests.Session:
    session = requests.Session()
    _harden(session)
    return session


def oauth_session(**settings: Any) -> OAuth2Session:
    """Authlib's OAuth 2.0 client session (``settings``: its constructor's), hardened."""
    session = OAuth2Session(**settings)
    _harden(session)
    return session


def no_answer(failure: requests.RequestException) -> str:
    """Why a call failed, in words for the owner's page."""
    if isinstance(failure, RefusedDestination):
        return str(failure)
    return f"no answer ({type(failure).__name__})"
