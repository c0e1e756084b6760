"""Who is on the other end: the client address, after trusted proxies only."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from flask import has_request_context, request

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
        try:
            return str(ipaddress.ip_address((candidate or "").strip()))
        except ValueError:
            continue
    return "unknown"


def socket_peer(environ: Mapping[str, Any]) -> str:
    """The address of the connection itself, before ``ProxyFix`` read any forwarded header."""
    original = environ.get("werkzeug.proxy_fix.orig", {})
    return str(original.get("REMOTE_ADDR") or environ.get("REMOTE_ADDR") or "")


def user_agent() -> str:
    """The User-Agent, printable characters only, bounded (it is stored and shown)."""
    raw = request.headers.get("User-Agent") or ""
    return "".join(ch for ch in raw if ch.isprintable())[:256]
