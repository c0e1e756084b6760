"""What the proxy and forward-auth need from the gateway's settings, read once by the factory
(shared by the WSGI app, :mod:`gateway.proxy.wsgi`, and the answer server,
:mod:`gateway.proxy.asgi`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import urllib3

from gateway.web.client import Networks


@dataclass(frozen=True)
class ProxySettings:
    """The settings, as the answers read them."""

    #: The gateway's own cookies (session, remember-me, known device): never sent to a
    #: product, never set by one.
    own_cookies: tuple[str, ...]
    #: ``FORWARD_AUTH_ALLOW``: the only callers forward-auth answers.
    edges: Networks
    trusted_hosts: list[str] | None
    upstream_timeout: urllib3.Timeout
    #: ``SESSION_COOKIE_SECURE``: the gateway's pages carry HSTS even behind a TLS edge.
    https_cookies: bool
    #: ``FORWARD_AUTH_LOG_ALLOWED``: an access-log line for each allowed forward-auth answer.
    log_allowed: bool

    @classmethod
    def from_config(cls, config: Mapping[str, Any], edges: Networks,
                    remember_cookie: str) -> ProxySettings:
        names = (config["SESSION_COOKIE_NAME"],
                 config.get("REMEMBER_COOKIE_NAME", remember_cookie),
                 config.get("DEVICE_COOKIE_NAME"))
        return cls(
            own_cookies=tuple(name for name in names if name),
            edges=edges,
            trusted_hosts=config.get("TRUSTED_HOSTS"),
            upstream_timeout=urllib3.Timeout(connect=config["UPSTREAM_CONNECT_TIMEOUT"],
                                             read=config["UPSTREAM_READ_TIMEOUT"]),
            https_cookies=bool(config["SESSION_COOKIE_SECURE"]),
            log_allowed=bool(config["FORWARD_AUTH_LOG_ALLOWED"]),
        )
