"""Who is on the other end: the client address, after trusted proxies only."""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any, TypeAlias

from flask import has_request_context, request
from werkzeug.middleware.proxy_fix import ProxyFix

#: What the audit log records for an operator command run on the server itself.
OPERATOR = "local"


def client_ip() -> str:
    """The client address as a canonical IP string.

    ``ProxyFix`` (configured with ``TRUSTED_PROXY_HOPS``) has already replaced ``remote_addr``
    with the address the trusted proxies saw. A value that does not parse as an IP (a forged or
    broken ``X-Forwarded-For``) falls back to the socket peer, so it can neither dodge throttling
    nor pollute logs. Outside a request (an operator command) it is :data:`OPERATOR`.
    """
    if not has_request_context():
        return OPERATOR
    return client_ip_of(request.environ)


def client_ip_of(environ: Mapping[str, Any]) -> str:
    """:func:`client_ip` from a WSGI environ (after ``ProxyFix``)."""
    for candidate in (environ.get("REMOTE_ADDR"), socket_peer(environ)):
        canonical = _canonical((candidate or "").strip())
        if canonical is not None:
            return canonical
    return "unknown"


#: No address an ``ipaddress`` parser takes is longer (IPv6 with a scope id); longer text is not
#: one, and is never remembered.
_ADDRESS_LENGTH = 64


def _canonical(text: str) -> str | None:
    """``text`` as a canonical IP string, None when it is not an address. The same few peers
    ask all the time: remembered (bounded), since parsing was a tenth of a forward-auth answer."""
    return _remembered_canonical(text) if len(text) <= _ADDRESS_LENGTH else None


@functools.lru_cache(maxsize=1024)
def _remembered_canonical(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


def socket_peer(environ: Mapping[str, Any]) -> str:
    """The address of the connection itself, before ``ProxyFix`` read any forwarded header."""
    original = environ.get("werkzeug.proxy_fix.orig", {})
    return str(original.get("REMOTE_ADDR") or environ.get("REMOTE_ADDR") or "")


Networks: TypeAlias = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def networks(values: Iterable[str]) -> Networks:
    """An allow-list setting (``FORWARD_AUTH_ALLOW``, ``METRICS_ALLOW``) parsed once."""
    return tuple(ipaddress.ip_network(value, strict=False) for value in values)


def peer_in(environ: Mapping[str, Any], allowed: Networks) -> bool:
    """The socket peer is in ``allowed``: the one notion of "the peer" every allow-list judges.

    Never the address ``ProxyFix`` took from ``X-Forwarded-For``: that header is believed from
    whoever reaches the gateway's port (hence: only the edge may reach it), so judging it would
    let anyone name an allowed address.
    """
    peer = socket_peer(environ)
    return len(peer) <= _ADDRESS_LENGTH and _peer_allowed(peer, allowed)


@functools.lru_cache(maxsize=1024)
def _peer_allowed(peer: str, allowed: Networks) -> bool:
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False
    return any(address in net for net in allowed)


class ForwardedFromPeers:
    """WSGI middleware: ``ProxyFix`` (``hops`` trusted proxies) for requests whose socket peer is
    in ``peers`` only; anyone else's ``X-Forwarded-*`` are left unread, so a caller that reaches
    the gateway's port directly cannot choose the client address that is throttled, logged and
    signed for products, nor the scheme and host. Without ``peers`` (no forward-auth edge
    configured) every caller is believed: then only the proxies may reach the port.
    """

    def __init__(self, wsgi_app: Any, hops: int, peers: Networks) -> None:
        self.wsgi_app = wsgi_app
        self.fixed = ProxyFix(wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
        self.peers = peers

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if not self.peers or peer_in(environ, self.peers):
            return self.fixed(environ, start_response)
        return self.wsgi_app(environ, start_response)


class ClientAddressOf:
    """The client address :func:`client_ip_of` will give a request once :class:`ForwardedFromPeers`
    (``hops`` trusted proxies, believed from ``peers``) has run, for a layer that runs before it
    (``gateway.web.bodies`` shares its slots per client). The same code decides, on a copy of
    the environ, so the two can never disagree."""

    def __init__(self, hops: int, peers: Networks) -> None:
        self.fixed = ForwardedFromPeers(_environ_of, hops, peers) if hops else None

    def __call__(self, environ: Mapping[str, Any]) -> str:
        if self.fixed is None:
            return client_ip_of(environ)
        return client_ip_of(self.fixed(dict(environ), None))


def _environ_of(environ: dict[str, Any], _start_response: Any) -> dict[str, Any]:
    return environ


def relayed(environ: Mapping[str, Any]) -> bool:
    """A proxy relayed the request for someone else (``X-Forwarded-For`` or ``Forwarded``): its
    socket peer is then the proxy, not the one asking."""
    return "HTTP_X_FORWARDED_FOR" in environ or "HTTP_FORWARDED" in environ


def user_agent() -> str:
    """The User-Agent, printable characters only, bounded (it is stored and shown)."""
    raw = request.headers.get("User-Agent") or ""
    return "".join(ch for ch in raw if ch.isprintable())[:256]
