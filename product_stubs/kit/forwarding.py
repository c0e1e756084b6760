"""Which ``X-Forwarded-*`` headers a product believes: only those the gateway signed (CWE-348).

A product is also reachable on its own port (its password users log in there), so anyone can
send ``X-Forwarded-For``. Believing it would let a client choose the address that login
throttling counts and the session history records, and the host and prefix URLs are built from.
The peer address cannot tell the gateway apart: in the demo everything, an attacker included,
connects from 127.0.0.1. So the gateway signs the values it sends: in the identity assertion
(its ``fwd`` claim) when the request carries one, else, on public pages, in
``X-Forwarded-Signature`` (a ``fwd+jwt`` from the same key, checked with the same JWKS, bound to
method and path, 30 s). This middleware drops every ``X-Forwarded-*`` header of a request
without a valid signature before ``ProxyFix`` runs: such a request is what it looks like, a
direct client.

The assertion is verified here, once per request (signature, claims and the replay check), and
the outcome is left in the WSGI environ (:data:`VERIFIED`) for ``identity.load_identity``,
which then does not verify it again (a second verification would be refused as a replay).
"""

from __future__ import annotations

from typing import Any

from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wsgi import get_path_info

from gateway.assertion import AssertionVerifier, Identity, InvalidAssertion

#: What ProxyFix reads (one hop: the gateway), and the WSGI keys of the proof and the assertion.
TRUSTED = ("for", "proto", "host", "prefix")
_PROOF = "HTTP_X_FORWARDED_SIGNATURE"
_ASSERTION = "HTTP_X_IDENTITY_ASSERTION"
#: WSGI environ key (no client header can produce it): ``(token, Identity | None)``, the
#: assertion this middleware verified and the outcome (None: refused).
VERIFIED = "product_kit.verified_assertion"


class GatewayForwarding:
    """WSGI middleware: ``ProxyFix`` fed only with the values the gateway signed."""

    def __init__(self, wsgi_app: Any, verifier: AssertionVerifier, prefix: str) -> None:
        self.app = ProxyFix(wsgi_app, x_for=1, x_proto=1, x_host=1, x_prefix=1)
        self.verifier = verifier
        self.prefix = prefix

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        environ.pop(VERIFIED, None)
        signed = self._signed(environ)
        for key in [k for k in environ if k.startswith("HTTP_X_FORWARDED_")]:
            del environ[key]
        for name in TRUSTED:
            if signed.get(name):
                environ["HTTP_X_FORWARDED_" + name.upper()] = signed[name]
        return self.app(environ, start_response)

    def _signed(self, environ: dict[str, Any]) -> dict[str, str]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = "/" + get_path_info(environ).lstrip("/")
        signed: dict[str, str] | None = None
        token = environ.get(_ASSERTION)
        if token is not None:
            identity: Identity | None
            try:
                identity = self.verifier.verify(token, method=method, path=path)
            except InvalidAssertion:
                identity = None
            environ[VERIFIED] = (token, identity)
            if identity is not None and identity.forwarded is not None:
                signed = dict(identity.forwarded)
        if signed is None:  # no assertion, or one without fwd: the separate proof, if any
            try:
                signed = self.verifier.verify_forwarded(
                    environ.get(_PROOF), method=method, path=path
                )
            except InvalidAssertion:
                return {}
        if signed.get("prefix", self.prefix) != self.prefix:
            del signed["prefix"]  # URLs are built under this product's own prefix only
        return signed
