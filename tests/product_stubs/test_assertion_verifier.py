"""The vendored verifier (``gateway/assertion.py``): every claim a product checks, one refused
variant per check (named by the reason it gives), and the JWKS cache a product keeps."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from gateway.assertion import (
    AssertionVerifier,
    InvalidAssertion,
    JwksFile,
    RemoteJwks,
    ReplayCache,
    StaticJwks,
)
from gateway.keys.store import public_jwk
from gateway.proxy.signing import sign_assertion
from tests.support.keys import craft, hs256_with_public_key, parts, shared_store, stranger_key

ISSUER = "https://login.example"


def _sign(**overrides: Any) -> str:
    claims: dict[str, Any] = {
        "issuer": ISSUER,
        "product": "segment",
        "console_user_id": "c1",
        "email": "pat@example.com",
        "product_user_id": "p1",
        "session_id": "s1",
        "auth_methods": ["pwd", "otp"],
        "method": "GET",
        "path": "/settings",
    }
    key = overrides.pop("key", None) or shared_store().signing_key()
    return sign_assertion(key, **(claims | overrides))


def _verifier() -> AssertionVerifier:
    return AssertionVerifier("segment", ISSUER, StaticJwks(shared_store().jwks()))


def _wrong_alg() -> str:
    """ES384 with a P-384 key, under the published kid."""
    key = ec.generate_private_key(ec.SECP384R1())
    _, claims, _ = parts(_sign())
    kid = shared_store().signing_key().kid
    return jwt.encode(claims, key, algorithm="ES384", headers={"kid": kid})


def _alg_none() -> str:
    header, claims, _ = parts(_sign())
    return craft({**header, "alg": "none"}, claims)


def _tampered_signature() -> str:
    token = _sign()
    head, _, signature = token.rpartition(".")
    flipped = ("A" if signature[10] != "A" else "B")
    return head + "." + signature[:10] + flipped + signature[11:]


def _tampered_payload() -> str:
    header, claims, signature = parts(_sign())
    forged = craft(header, {**claims, "sub": "someone-else"})
    return forged + signature


def _forged_under_published_kid() -> str:
    return _sign(key=stranger_key(kid=shared_store().signing_key().kid))


def _no_kid() -> str:
    header, claims, _ = parts(_sign())
    del header["kid"]
    token = jwt.encode(claims, shared_store().signing_key().private_key, algorithm="ES256")
    assert "kid" not in jwt.get_unverified_header(token)
    return token


def _resigned(**claims: Any) -> str:
    """A token the gateway's key signed with odd claim values (the gateway never would)."""
    header, payload, _ = parts(_sign())
    key = shared_store().signing_key()
    return jwt.encode(payload | claims, key.private_key, algorithm="ES256", headers=header)


#: case -> (token maker, method, path, reason the verifier gives)
REFUSED: dict[str, tuple[Callable[[], str | None], str, str, str]] = {
    "missing": (lambda: None, "GET", "/settings", "missing"),
    "garbage": (lambda: "not.a.token", "GET", "/settings", "malformed"),
    "oversized-token": (lambda: _sign(email="x" * 9000 + "@e.com"), "GET", "/settings",
                        "too large"),
    "wrong-alg-es384": (_wrong_alg, "GET", "/settings", "algorithm not allowed"),
    "alg-none": (_alg_none, "GET", "/settings", "algorithm not allowed"),
    "hs256-with-public-key": (lambda: hs256_with_public_key(shared_store(), _sign()), "GET",
                              "/settings", "algorithm not allowed"),
    "no-kid": (_no_kid, "GET", "/settings", "no key id"),
    "unknown-kid": (lambda: _sign(key=stranger_key()), "GET", "/settings", "unknown key"),
    "forged-under-published-kid": (_forged_under_published_kid, "GET", "/settings",
                                   "bad signature"),
    "tampered-signature": (_tampered_signature, "GET", "/settings", "bad signature"),
    "tampered-payload": (_tampered_payload, "GET", "/settings", "bad signature"),
    "expired": (lambda: _sign(now=int(time.time()) - 40), "GET", "/settings", "expired"),
    "not-yet-valid-beyond-skew": (lambda: _sign(now=int(time.time()) + 10), "GET", "/settings",
                                  "from the future"),
    "lifetime-over-60s": (lambda: _sign(lifetime=3600), "GET", "/settings", "lifetime too long"),
    "other-audience": (lambda: _sign(product="sendgrid"), "GET", "/settings", "another issuer"),
    "other-issuer": (lambda: _sign(issuer="https://evil.example"), "GET", "/settings",
                     "another issuer"),
    "other-method": (_sign, "POST", "/settings", "another request"),
    "other-path": (_sign, "GET", "/settings/other", "another request"),
    "malformed-links-claim": (lambda: _resigned(lnk={"segment": "yes"}), "GET", "/settings",
                              "malformed"),
    "non-string-subject": (lambda: _resigned(sub=42), "GET", "/settings", "malformed"),
}


@pytest.mark.parametrize("case", REFUSED, ids=list(REFUSED))
def test_verifier_refuses(case: str) -> None:
    make, method, path, reason = REFUSED[case]
    token = make()
    with pytest.raises(InvalidAssertion, match=reason):
        _verifier().verify(token, method=method, path=path)


def test_replay_is_refused_once_seen() -> None:
    token = _sign()
    verifier = _verifier()
    assert verifier.verify(token, method="GET", path="/settings").console_user_id == "c1"
    with pytest.raises(InvalidAssertion, match="replayed"):
        verifier.verify(token, method="GET", path="/settings")


def test_replay_cache_holds_every_live_id_and_forgets_each_once_expired() -> None:
    # A busy product: 30,000 assertions live at once (once 10,000 were live, each request used
    # to sweep them all, and product CPU grew with traffic; see bench/edge.py).
    cache = ReplayCache(skew=5)
    for i in range(30_000):
        assert cache.spend(f"id{i}", expires_at=1000 + i // 1000, now=990)
    assert not cache.spend("id7", expires_at=1000, now=995)  # still live: still refused
    assert not cache.spend("id29999", expires_at=1029, now=995)
    assert len(cache) == 30_000
    # At 1010 the ids expiring at 1000..1004 can no longer verify (5 s of skew): forgotten.
    assert cache.spend("fresh", expires_at=1060, now=1010)
    assert len(cache) == 30_000 - 5_000 + 1
    assert not cache.spend("id5000", expires_at=1005, now=1010)  # 1005 + 5 is not past 1010


def test_a_valid_assertion_gives_every_claim() -> None:
    token = _sign(links={"segment": True, "sendgrid": False})
    identity = _verifier().verify(token, method="get", path="/settings")
    assert (identity.console_user_id, identity.email, identity.product) == (
        "c1", "pat@example.com", "segment")
    assert identity.auth_methods == ("pwd", "otp")
    assert identity.expires_at - identity.issued_at == 30
    assert identity.links == {"segment": True, "sendgrid": False}
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "ES256", "kid": shared_store().signing_key().kid, "typ": "JWT"}


def test_skew_within_five_seconds_is_tolerated() -> None:
    ahead = _sign(now=int(time.time()) + 3)
    behind = _sign(now=int(time.time()) - 33)  # expired 3 s ago by the gateway's clock
    _verifier().verify(ahead, method="GET", path="/settings")
    _verifier().verify(behind, method="GET", path="/settings")


# --- the product's copy of the JWKS -----------------------------------------------------------


class FakeGateway:
    """Counts JWKS fetches; serves whatever set the test puts in ``document``."""

    def __init__(self, max_age: int | None = 300) -> None:
        self.document: dict[str, Any] = shared_store().jwks()
        self.max_age = max_age
        self.now = 0.0
        self.down = False

    def fetch(self, url: str, timeout: float) -> tuple[bytes, int | None]:
        if self.down:
            raise OSError("connection refused")
        return json.dumps(self.document).encode(), self.max_age

    def source(self) -> RemoteJwks:
        return RemoteJwks("http://gateway.internal/.well-known/jwks.json",
                          fetch=self.fetch, clock=lambda: self.now)


def test_jwks_is_cached_for_its_max_age() -> None:
    gateway = FakeGateway(max_age=60)
    jwks = gateway.source()
    kid = shared_store().signing_key().kid
    assert jwks.get(kid) is not None and jwks.fetches == 1
    gateway.now = 59
    assert jwks.get(kid) is not None and jwks.fetches == 1
    gateway.now = 60
    assert jwks.get(kid) is not None and jwks.fetches == 2


def test_kid_flood_triggers_only_the_rate_limited_refreshes() -> None:
    gateway = FakeGateway()
    jwks = gateway.source()
    verifier = AssertionVerifier("segment", ISSUER, jwks, clock=lambda: time.time())
    for step in range(1000):  # 1000 bogus kids over 25 s
        gateway.now = step * 0.025
        with pytest.raises(InvalidAssertion, match="unknown key"):
            verifier.verify(_sign(key=stranger_key(kid=f"bogus-{step}")),
                            method="GET", path="/settings")
    # The first fetch, then one refresh per 10 s interval (t=10, t=20): never one per kid.
    assert jwks.fetches == 3


def test_unknown_kid_refresh_finds_a_newly_published_key() -> None:
    gateway = FakeGateway()
    jwks = gateway.source()
    assert jwks.get(shared_store().signing_key().kid) is not None
    newcomer = stranger_key()
    gateway.document = {"keys": [*gateway.document["keys"],
                                 public_jwk(newcomer.private_key.public_key())]}
    gateway.now = 5  # within the refresh interval: not refreshed yet
    assert jwks.get(newcomer.kid) is None
    gateway.now = 11
    assert jwks.get(newcomer.kid) is not None and jwks.fetches == 2


def test_gateway_unreachable_keeps_known_keys_and_refuses_unknown_ones() -> None:
    gateway = FakeGateway(max_age=1)
    jwks = gateway.source()
    kid = shared_store().signing_key().kid
    assert jwks.get(kid) is not None
    gateway.down, gateway.now = True, 30
    assert jwks.get(kid) is not None  # stale public keys keep verifying
    assert jwks.get("never-seen") is None


def test_pinned_jwks_file_is_reread_when_it_changes(tmp_path: Any) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": []}))
    pinned = JwksFile(str(path), interval=0)
    kid = shared_store().signing_key().kid
    assert pinned.get(kid) is None
    path.write_text(json.dumps(shared_store().jwks()) + "\n")
    assert pinned.get(kid) is not None
    path.write_text("{half a file")
    assert pinned.get(kid) is not None  # a bad copy keeps the last good set
