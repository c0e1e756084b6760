"""Which ``X-Forwarded-*`` headers a product believes: only those the gateway signed (CWE-348).

A product is also reachable on its own port (its password users log in there), so anyone can
send ``X-Forwarded-For``. Believing it would let a client choose the address that login
throttling counts and the session history records, and the host and prefix URLs are built from.
The peer address cannot tell the gateway apart: in the demo everything, an attacker included,
connects from 127.0.0.1. So the gateway signs the values it sends (``X-Forwarded-Signature``:
a ``fwd+jwt`` from its signing key, checked with the same JWKS as the assertion, bound to
method and path, 30 s), on public pages too, and this
middleware drops every ``X-Forwarded-*`` header of a request without a valid signature before
``ProxyFix`` runs: such a request is what it looks like, a direct client.
"""

from __future__ import annotations

from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wsgi import get_path_info

from gateway.assertion import AssertionVerifier, InvalidAssertion

#: What ProxyFix reads (one hop: the gateway), and the WSGI key of the signature.
TRUSTED = ("for", "proto", "host", "prefix")
_PROOF = "HTTP_X_FORWARDED_SIGNATURE"


class GatewayForwarding:
    """WSGI middleware: ``ProxyFix`` fed only with the values the gateway signed."""

    def __init__(self, wsgi_app: Any, verifier: AssertionVerifier, prefix: str) -> None:
        self.app = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)
        self.verifier = verifier
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        signed = self._signed(environ)
        for key in [k for k in environ if k.startswith("HTTP_X_FORWARDED_")]:
            del environ[key]
        for name in TRUSTED:
            if signed.get(name):
                environ["HTTP_X_FORWARDED_" + name.upper()] = signed[name]
        return self.app(environ, start_response)

    def _signed(self, environ: dict[str, Any]) -> dict[str, str]:
        try:
            signed = self.verifier.verify_forwarded(
                environ.get(_PROOF),
                method=environ.get("REQUEST_METHOD", "GET"),
                path="/" + get_path_info(environ).lstrip("/"),
            )
        except InvalidAssertion:
            return {}
        if signed.get("prefix", self.prefix) != self.prefix:
            del signed["prefix"]  # URLs are built under this product's own prefix only
        return signed
