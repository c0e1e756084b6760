"""The product's forwarding middleware (``product_stubs/kit/forwarding.py``) with the forwarded
values in the identity assertion (``fwd`` claim): believed from it, the assertion verified once
per request (the replay check included), and the ``fwd+jwt`` proof still used without one."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from werkzeug.test import EnvironBuilder

from gateway.assertion import (
    FORWARDED_HEADER,
    HEADER,
    AssertionVerifier,
    InvalidAssertion,
    StaticJwks,
)
from gateway.proxy.signing import sign_assertion, sign_forwarded
from product_stubs.kit.forwarding import VERIFIED, GatewayForwarding
from tests.support.keys import shared_store

ISSUER = "https://login.example"
FWD = {"for": "203.0.113.7", "proto": "https", "host": "gw.test", "prefix": "/segment"}
DIRECT = "127.0.0.1"


def _assertion(path: str = "/settings", forwarded: dict[str, str] | None = FWD,
               **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "issuer": ISSUER, "product": "segment", "console_user_id": "c1",
        "email": "pat@example.com", "product_user_id": "p1", "session_id": "s1",
        "auth_methods": ["pwd"], "method": "GET", "path": path, "forwarded": forwarded,
    }
    return sign_assertion(shared_store().signing_key(), **(claims | overrides))


def _proof(path: str = "/settings", **values: str) -> str:
    return sign_forwarded(shared_store().signing_key(), issuer=ISSUER, product="segment",
                          method="GET", path=path, forwarded=FWD | values)


def _through(verifier: AssertionVerifier, headers: dict[str, str],
             path: str = "/settings") -> dict[str, Any]:
    """The environ the product app receives behind the middleware."""
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    environ = EnvironBuilder(path=path, headers=headers,
                             environ_base={"REMOTE_ADDR": DIRECT}).get_environ()
    GatewayForwarding(app, verifier, "/segment")(environ, lambda *a: None)
    return seen


def _verifier() -> AssertionVerifier:
    return AssertionVerifier("segment", ISSUER, StaticJwks(shared_store().jwks()))


def test_forwarded_values_come_from_the_assertion_verified_once() -> None:
    verifier = _verifier()
    token = _assertion()
    spoofed = {HEADER: token, "X-Forwarded-For": "198.51.100.99", "X-Forwarded-Host": "evil"}
    environ = _through(verifier, spoofed)
    assert environ["REMOTE_ADDR"] == "203.0.113.7"  # the signed value, not the header's
    assert environ["HTTP_HOST"] == "gw.test" and environ["wsgi.url_scheme"] == "https"
    assert environ["SCRIPT_NAME"] == "/segment"
    verified_token, identity = environ[VERIFIED]
    assert verified_token == token and identity.console_user_id == "c1"
    assert identity.forwarded == FWD
    # Verified (and its jti recorded) exactly once: a second use is a replay.
    with pytest.raises(InvalidAssertion, match="replayed"):
        verifier.verify(token, method="GET", path="/settings")


def test_a_refused_assertion_vouches_for_nothing() -> None:
    for token in (_assertion(path="/other"), _assertion(now=int(time.time()) - 120),
                  _proof()):  # a fwd+jwt is never an assertion
        environ = _through(_verifier(), {HEADER: token, "X-Forwarded-For": "198.51.100.99"})
        assert environ["REMOTE_ADDR"] == DIRECT
        assert "HTTP_X_FORWARDED_FOR" not in environ
        assert environ[VERIFIED] == (token, None)


def test_without_an_assertion_the_proof_still_counts() -> None:
    environ = _through(_verifier(), {FORWARDED_HEADER: _proof()})
    assert environ["REMOTE_ADDR"] == "203.0.113.7" and VERIFIED not in environ
    # An assertion is never a proof (explicit types), even one that carries fwd.
    environ = _through(_verifier(), {FORWARDED_HEADER: _assertion()})
    assert environ["REMOTE_ADDR"] == DIRECT


def test_an_assertion_without_fwd_falls_back_to_the_proof() -> None:
    environ = _through(_verifier(), {HEADER: _assertion(forwarded=None),
                                     FORWARDED_HEADER: _proof()})
    assert environ["REMOTE_ADDR"] == "203.0.113.7"
    assert environ[VERIFIED][1] is not None


def test_a_client_cannot_preset_the_verified_outcome() -> None:
    seen = _through(_verifier(), {"X-Forwarded-For": "198.51.100.99"})
    assert VERIFIED not in seen and seen["REMOTE_ADDR"] == DIRECT


def test_a_malformed_fwd_claim_refuses_the_assertion() -> None:
    header = {"alg": "ES256", "kid": shared_store().signing_key().kid, "typ": "JWT"}
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": "segment", "sub": "c1", "email": "e", "puid": "p1",
              "sid": "s1", "amr": [], "iat": now, "exp": now + 30, "jti": "j1", "htm": "GET",
              "htp": "/settings", "fwd": {"for": 1}}
    token = jwt.encode(claims, shared_store().signing_key().private_key, algorithm="ES256",
                       headers=header)
    with pytest.raises(InvalidAssertion, match="malformed"):
        _verifier().verify(token, method="GET", path="/settings")
