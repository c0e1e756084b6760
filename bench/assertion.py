"""Cost of one identity assertion: sign and verify, the ES256 JWT against the old format.

    .venv/bin/python bench/assertion.py [--rounds 5000]

New: ``gateway.proxy.signing.sign_assertion`` (PyJWT, ES256 with cryptography; with the
X-Forwarded-* values in its ``fwd`` claim, as the gateway sends it) and
``gateway.assertion.AssertionVerifier`` (every product check: alg, kid, signature, iss, aud,
exp/iat, lifetime, htm/htp, replay). Old: the removed itsdangerous assertion
(``URLSafeTimedSerializer`` with a shared key, salt, aud/htm/htp checks), kept here only for
comparison, with the same claims. Prints microseconds per operation (best of 3 runs), and per
authenticated proxied request: the old format signed and verified two tokens (the assertion and
``X-Forwarded-Signature``), the new one a single assertion.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from itsdangerous import URLSafeTimedSerializer

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gateway.assertion import AssertionVerifier, ReplayCache, StaticJwks  # noqa: E402
from gateway.keys.store import KeyStore  # noqa: E402
from gateway.proxy.signing import sign_assertion  # noqa: E402

ISSUER = "https://login.example"
CLAIMS: dict[str, Any] = {
    "product": "segment", "console_user_id": "8f14e45fceea167a5a36dedd4bea2543",
    "email": "pat@example.com", "product_user_id": "c9f0f895fb98ab9159f51fd0297e236d",
    "session_id": "45c48cce2e2d7fbdeb7e4dabd7f3b1a3", "auth_methods": ["pwd", "otp"],
    "method": "GET", "path": "/settings/profile", "links": {"segment": True, "sendgrid": False},
    "forwarded": {"for": "203.0.113.7", "proto": "https", "host": "login.example",
                  "prefix": "/segment"},
}

# --- the old format, as it was (gateway/assertion.py before the JWT) ---------------------------
OLD_SALT = "unified-login.identity-assertion.v1"
OLD_FORWARDED_SALT = "unified-login.forwarded.v1"
OLD_KEYS = ["bench-assertion-key-" + "0" * 32]


def old_sign(serializer: URLSafeTimedSerializer) -> str:
    return serializer.dumps({
        "iss": "unified-login-gateway", "aud": CLAIMS["product"], "sub": CLAIMS["console_user_id"],
        "email": CLAIMS["email"], "puid": CLAIMS["product_user_id"], "sid": CLAIMS["session_id"],
        "amr": CLAIMS["auth_methods"], "iat": int(time.time()), "jti": uuid.uuid4().hex,
        "htm": "GET", "htp": CLAIMS["path"], "lnk": CLAIMS["links"],
    })


def old_verify(serializer: URLSafeTimedSerializer, token: str) -> None:
    payload = serializer.loads(token, max_age=35)
    assert payload["aud"] == "segment" and payload["htm"] == "GET"
    assert payload["htp"] == CLAIMS["path"]


def old_sign_forwarded(serializer: URLSafeTimedSerializer) -> str:
    """The old X-Forwarded-Signature (itsdangerous too), sent next to the old assertion."""
    return serializer.dumps({
        "iss": "unified-login-gateway", "aud": CLAIMS["product"], "htm": "GET",
        "htp": CLAIMS["path"], "fwd": CLAIMS["forwarded"],
    })


def old_verify_forwarded(serializer: URLSafeTimedSerializer, token: str) -> None:
    payload = serializer.loads(token, max_age=35)
    assert payload["aud"] == "segment" and payload["htp"] == CLAIMS["path"]


# --- measuring ---------------------------------------------------------------------------------
def per_call_us(action: Callable[[int], object], rounds: int) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for i in range(rounds):
            action(i)
        best = min(best, time.perf_counter() - start)
    return best / rounds * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5000)
    rounds = parser.parse_args().rounds

    store = KeyStore(tempfile.mkdtemp(prefix="bench-keys-"))
    store.ensure(demo=True)
    key = store.signing_key()
    new_tokens = [sign_assertion(key, issuer=ISSUER, **CLAIMS) for _ in range(rounds)]
    verifier = AssertionVerifier("segment", ISSUER, StaticJwks(store.jwks()))
    serializer = URLSafeTimedSerializer(OLD_KEYS, salt=OLD_SALT)
    old_tokens = [old_sign(serializer) for _ in range(rounds)]
    fwd_serializer = URLSafeTimedSerializer(OLD_KEYS, salt=OLD_FORWARDED_SALT)
    old_proof = old_sign_forwarded(fwd_serializer)

    def old_request(i: int) -> None:
        old_sign(serializer)
        old_sign_forwarded(fwd_serializer)
        old_verify(serializer, old_tokens[i])
        old_verify_forwarded(fwd_serializer, old_proof)

    def new_request(i: int) -> None:
        sign_assertion(key, issuer=ISSUER, **CLAIMS)
        new_verify(i)

    def new_verify(i: int) -> None:
        verifier._seen = ReplayCache(verifier.skew)  # the same tokens are verified in each run
        verifier.verify(new_tokens[i], method="GET", path=CLAIMS["path"])

    results = {
        "sign": (per_call_us(lambda _i: old_sign(serializer), rounds),
                 per_call_us(lambda _i: sign_assertion(key, issuer=ISSUER, **CLAIMS), rounds)),
        "verify": (per_call_us(lambda i: old_verify(serializer, old_tokens[i]), rounds),
                   per_call_us(new_verify, rounds)),
        "per request": (per_call_us(old_request, rounds), per_call_us(new_request, rounds)),
    }
    print(f"{'µs per assertion':<18}{'itsdangerous (old)':>20}{'ES256 JWT (new)':>18}")
    for name, (old, new) in results.items():
        print(f"{name:<18}{old:>20.1f}{new:>18.1f}")
    print(f"{'token bytes':<18}{len(old_tokens[0]):>20}{len(new_tokens[0]):>18}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
