"""The signed assertion as products see it, the JWKS, key rotation with ``flask keys``."""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from flask import Flask

import config
from gateway.assertion import AssertionVerifier, InvalidAssertion, RemoteJwks, StaticJwks
from gateway.cli.keys import keys_cli
from gateway.keys import key_store
from gateway.keys.store import SigningKey
from gateway.proxy.signing import sign_assertion
from gateway.web.return_paths import safe_return_path
from tests.support.apps import dispose
from tests.support.console import make_gateway_app
from tests.support.keys import shared_store
from tests.support.proxy_gateway import SignedIn, echoed, gateway_settings, sign_in

ISSUER = "http://127.0.0.1:5000"
CLAIMS = {"iss", "aud", "sub", "email", "puid", "sid", "amr", "iat", "exp", "jti", "htm", "htp",
          "lnk", "fwd"}


def _token(echo: dict) -> str:
    return str(dict(echo["headers"])["X-Identity-Assertion"])


def test_product_receives_a_full_assertion(signed_in: SignedIn) -> None:
    echo = echoed(signed_in.client.get("/segment/settings"))
    assert echo["identity"] == {
        "sub": signed_in.user_id,
        "email": signed_in.email,
        "puid": "seg-user-1",
        "sid": signed_in.session_public_id,
        "amr": ["pwd", "otp"],
    }
    token = _token(echo)
    key = shared_store().signing_key()
    assert jwt.get_unverified_header(token) == {"alg": "ES256", "kid": key.kid, "typ": "JWT"}
    claims = jwt.decode(token, key.private_key.public_key(), algorithms=["ES256"],
                        audience="segment", issuer=ISSUER)
    assert set(claims) == CLAIMS
    assert (claims["aud"], claims["htm"], claims["htp"]) == ("segment", "GET", "/settings")
    assert claims["exp"] - claims["iat"] == 30
    assert claims["lnk"] == {"segment": True, "sendgrid": True}
    # The assertion vouches for the X-Forwarded-* values sent with it: no separate proof.
    headers = dict(echo["headers"])
    assert claims["fwd"] == {name: headers[f"X-Forwarded-{name.title()}"]
                             for name in ("for", "proto", "host", "prefix")}
    assert "X-Forwarded-Signature" not in headers
    assert signed_in.session_public_id != signed_in.token


def test_each_product_gets_its_own_audience(signed_in: SignedIn) -> None:
    echo = echoed(signed_in.client.get("/sendgrid/x"))
    assert echo["identity"]["puid"] == "sg-user-1"
    jwks = StaticJwks(shared_store().jwks())
    with pytest.raises(InvalidAssertion, match="another issuer or product"):
        AssertionVerifier("segment", ISSUER, jwks).verify(_token(echo), method="GET", path="/x")


def test_issuer_is_the_configured_public_url(upstreams: Any, tmp_path: Any,
                                             database_url: str) -> None:
    app = make_gateway_app(database_url, **gateway_settings(upstreams, tmp_path,
                                                    PUBLIC_URL="https://login.example/"))
    person = sign_in(app, app.test_client())
    # The echo product expects the default issuer: it refuses this gateway's assertions.
    assert echoed(person.client.get("/segment/a"))["identity"] == {
        "error": "assertion for another issuer or product"}
    token = _token(echoed(person.client.get("/segment/a")))
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == "https://login.example"
    dispose(app)


def test_proxy_refuses_replay_through_product(signed_in: SignedIn) -> None:
    """A captured assertion replayed by a client is stripped; the product sees a fresh one."""
    captured = _token(echoed(signed_in.client.get("/segment/a")))
    second = echoed(signed_in.client.get("/segment/a", headers={"X-Identity-Assertion": captured}))
    assert _token(second) != captured
    assert second["identity"]["email"] == signed_in.email


# --- the JWKS ---------------------------------------------------------------------------------


def test_jwks_lists_public_keys_with_cache_headers(gateway: Flask) -> None:
    response = gateway.test_client().get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.mimetype == "application/jwk-set+json"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert "Set-Cookie" not in response.headers
    document = response.get_json(force=True)
    [jwk] = document["keys"]
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # no private "d"
    assert (jwk["kty"], jwk["crv"], jwk["alg"], jwk["use"]) == ("EC", "P-256", "ES256", "sig")
    assert jwk["kid"] == shared_store().signing_key().kid
    # RFC 7638: the kid is the SHA-256 thumbprint of the required members.
    assert jwt.PyJWK(jwk).key_id == jwk["kid"]
    assert jwk["kid"] == _thumbprint(jwk)


def _thumbprint(jwk: dict) -> str:
    import base64
    import hashlib

    members = json.dumps({k: jwk[k] for k in ("crv", "kty", "x", "y")}, separators=(",", ":"),
                         sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(members.encode()).digest()).decode().rstrip("=")


def _remote(app: Flask, clock: list[float]) -> RemoteJwks:
    """A product's JWKS cache that fetches from ``app`` over its test client."""
    client = app.test_client()

    def fetch(url: str, timeout: float) -> tuple[bytes, int | None]:
        answer = client.get(urlsplit(url).path)
        assert answer.status_code == 200
        max_age = answer.headers["Cache-Control"].rsplit("max-age=", 1)[1]
        return answer.get_data(), int(max_age)

    return RemoteJwks(ISSUER + "/.well-known/jwks.json", fetch=fetch, clock=lambda: clock[0])


@pytest.fixture
def rotating(database_url: str, upstreams: Any, tmp_path: Any) -> Any:
    """A gateway with its own key directory, short lifetimes so a test sees keys leave."""
    app = make_gateway_app(database_url, **gateway_settings(
        upstreams, tmp_path, ASSERTION_KEY_DIR=str(tmp_path / "keys"), ASSERTION_MAX_AGE=1,
        JWKS_MAX_AGE=60))
    yield app
    dispose(app)


def test_zero_downtime_rotation_with_the_cli(rotating: Flask) -> None:
    """stage -> promote -> retire: a product with a cached JWKS verifies at every step."""
    person = sign_in(rotating, rotating.test_client())
    runner = rotating.test_cli_runner()
    clock = [0.0]
    jwks = _remote(rotating, clock)
    product = AssertionVerifier("segment", ISSUER, jwks)

    def signed_now() -> str:
        return _token(echoed(person.client.get("/segment/rot")))

    def accepts(token: str) -> str:
        product.verify(token, method="GET", path="/rot")
        return str(jwt.get_unverified_header(token)["kid"])

    first_kid = accepts(signed_now())
    assert jwks.fetches == 1
    assert runner.invoke(keys_cli, ["stage"]).exit_code == 0
    listed = [k["kid"] for k in rotating.test_client().get("/.well-known/jwks.json").json["keys"]]
    assert len(listed) == 2 and listed[1] == first_kid  # staged first
    assert accepts(signed_now()) == first_kid  # staged keys do not sign
    clock[0] += 60  # the products' cached JWKS expires (JWKS_MAX_AGE): they learn the new key
    old = signed_now()
    assert runner.invoke(keys_cli, ["promote"]).exit_code == 0
    assert accepts(signed_now()) == listed[0]
    assert accepts(old) == first_kid  # signed before the promote: still verifies
    assert jwks.fetches == 2  # the new kid was already in the cache: no extra fetch
    assert runner.invoke(keys_cli, ["retire"]).exit_code == 0
    grace = rotating.config["ASSERTION_MAX_AGE"] + rotating.config["JWKS_MAX_AGE"]
    store = key_store(rotating)
    assert [e.state for e in store.entries()] == ["active", "retiring"]
    store._clock = lambda: time.time() + grace + 1  # the grace period is over
    listed = [k["kid"] for k in rotating.test_client().get("/.well-known/jwks.json").json["keys"]]
    assert listed == [store.signing_key().kid]
    clock[0] += 60  # products refresh: a fresh assertion under the retired key no longer verifies
    [retired] = [e for e in store.entries() if e.kid == first_kid]
    with open(os.path.join(store.folder, retired.filename), "rb") as handle:
        old_key = SigningKey(first_kid, load_pem_private_key(handle.read(), None), True)
    late = sign_assertion(old_key, issuer=ISSUER, product="segment", console_user_id="u",
                          email="e@example.com", product_user_id="p", session_id="s",
                          auth_methods=["pwd"], method="GET", path="/rot")
    with pytest.raises(InvalidAssertion, match="unknown key"):
        accepts(late)
    assert jwks.fetches == 3
    result = runner.invoke(keys_cli, ["show"])
    assert "active" in result.output and "BEGIN" not in result.output
    # A later retire deletes the retired key's file.
    assert runner.invoke(keys_cli, ["retire"]).exit_code == 0
    pems = [n for n in os.listdir(store.folder) if n.endswith(".pem")]
    assert len(pems) == 1


def test_promote_without_stage_and_double_stage_are_refused(rotating: Flask) -> None:
    runner = rotating.test_cli_runner()
    assert "no staged key" in runner.invoke(keys_cli, ["promote"]).output
    assert runner.invoke(keys_cli, ["stage"]).exit_code == 0
    assert "already staged" in runner.invoke(keys_cli, ["stage"]).output


def test_rotate_command_runs_all_steps(rotating: Flask) -> None:
    store = key_store(rotating)
    before = store.signing_key().kid
    result = rotating.test_cli_runner().invoke(keys_cli, ["rotate", "--no-wait"])
    assert result.exit_code == 0, result.output
    assert store.signing_key().kid != before
    assert [e.state for e in store.entries()] == ["active", "retiring"]
    assert oct(os.stat(store.folder).st_mode & 0o777) == "0o700"
    for name in os.listdir(store.folder):
        if name.endswith((".pem", ".json")):
            assert oct(os.stat(os.path.join(store.folder, name)).st_mode & 0o777) == "0o600"


def test_keys_jwks_command_prints_the_published_set(rotating: Flask) -> None:
    printed = json.loads(rotating.test_cli_runner().invoke(keys_cli, ["jwks"]).output)
    assert printed == rotating.test_client().get("/.well-known/jwks.json").json


def test_assertion_lifetime_over_60_seconds_is_refused(upstreams: Any, tmp_path: Any,
                                                       database_url: str) -> None:
    with pytest.raises(config.ConfigError, match="ASSERTION_MAX_AGE"):
        make_gateway_app(
            database_url, **gateway_settings(upstreams, tmp_path, ASSERTION_MAX_AGE=61)
        )


# --- return paths: every next value goes through the one validator ----------------------------


@pytest.mark.parametrize(
    "value",
    [
        "//evil.test",
        "/\\evil.test",
        "\\\\evil.test",
        "https://evil.test",
        "http:evil.test",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "/%2F%2Fevil.test",
        "/%2f/evil.test",
        "/%5Cevil.test",
        "%2F%2Fevil.test",
        "/%252F%252Fevil.test",
        "/\u2215\u2215evil.test",
        "/\uff0f\uff0fevil.test",
        "/\x00/evil",
        "/\t/evil.test",
        " //evil.test",
        "/segment/../../\\evil",
        "data:text/html,x",
    ],
)
def test_open_redirect_table(gateway: Flask, value: str) -> None:
    result = safe_return_path(value, default="/fallback")
    assert result == "/fallback" or (
        result.startswith("/") and not result.startswith(("//", "/\\"))
        and "evil" not in urlsplit(result).netloc
    )


@pytest.mark.parametrize("value", ["//evil.test", "/%2F%2Fevil.test", "https://evil.test"])
def test_login_redirect_never_carries_an_unsafe_next(gateway: Flask, value: str) -> None:
    response = gateway.test_client().get("/segment/" + value.lstrip("/"),
                                         headers={"Accept": "text/html"})
    if response.status_code == 302:
        next_value = parse_qs(urlsplit(response.headers["Location"]).query)["next"][0]
        assert next_value.startswith("/segment/")
        assert safe_return_path(next_value) == next_value


def _jtis(count: int) -> set[str]:
    key = shared_store().signing_key()
    tokens = (sign_assertion(key, issuer="https://login.example", product="segment",
                             console_user_id="c1", email="pat@example.com",
                             product_user_id="p1", session_id="s1", auth_methods=["pwd"],
                             method="GET", path="/") for _ in range(count))
    return {jwt.decode(t, options={"verify_signature": False})["jti"] for t in tokens}


def test_assertion_ids_are_unique_in_a_worker_and_across_forked_workers() -> None:
    """A product refuses an id it has seen: two workers must never hand out the same ones."""
    parent = _jtis(2000)
    assert len(parent) == 2000
    assert all(len(jti) == 32 and int(jti, 16) >= 0 for jti in parent)
    with multiprocessing.get_context("fork").Pool(2) as pool:
        children = pool.map(_jtis, [2000, 2000])
    assert len(children[0] | children[1] | parent) == 6000


def test_assertion_ids_do_not_follow_the_shared_random_seed() -> None:
    """A library (or Hypothesis) seeding ``random`` with a constant must not repeat ids."""
    state = random.getstate()
    try:
        random.seed(7)
        first = _jtis(3)
        random.seed(7)
        assert _jtis(3).isdisjoint(first)
    finally:
        random.setstate(state)


# --- claims built once per session, fresh ones per request --------------------------------------


def test_session_claims_built_once_never_go_stale_and_request_claims_stay_fresh(
    gateway: Flask,
) -> None:
    """The signer keeps each session's fixed claims, never what names one request: every
    assertion gets its own ``jti``, its method and path, a 30 s lifetime; a person whose
    email or links changed is signed with the new values at once."""
    from dataclasses import replace

    from gateway.keys import key_store as store_of
    from gateway.products.table import products
    from gateway.proxy.decision import Principal
    from gateway.proxy.signing import Signer

    with gateway.app_context():
        table = products(gateway)
        signer = Signer(store_of(gateway), ISSUER, 30, table)
    segment = table.get("segment")
    assert segment is not None
    person = Principal("u-1", "old@example.com", "sid-1", ("pwd",), "seg-1",
                       frozenset({"segment"}))
    verifier = AssertionVerifier("segment", ISSUER, StaticJwks(store_of(gateway).jwks()))
    first = verifier.verify(signer.assertion(segment, person, "GET", "/a"), method="GET",
                            path="/a")
    second = verifier.verify(signer.assertion(segment, person, "post", "/b/c"), method="POST",
                             path="/b/c")
    assert first.assertion_id != second.assertion_id
    claims = jwt.decode(signer.assertion(segment, person, "GET", "/a"),
                        options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 30 and claims["email"] == "old@example.com"
    changed = replace(person, email="new@example.com", linked=frozenset({"segment", "sendgrid"}))
    claims = jwt.decode(signer.assertion(segment, changed, "GET", "/a"),
                        options={"verify_signature": False})
    assert claims["email"] == "new@example.com"
    assert claims["lnk"] == {"segment": True, "sendgrid": True}
