"""The signed assertion as products see it, key rotation, and return paths."""

from __future__ import annotations

import os
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from itsdangerous import URLSafeTimedSerializer

from gateway.assertion import (
    SALT,
    AssertionVerifier,
    InvalidAssertion,
    KeyFile,
    parse_key_lines,
    sign_assertion,
)
from gateway.cli.keys import keys_cli
from gateway.products.table import products
from gateway.web.return_paths import safe_return_path
from tests.support.proxy_gateway import SEGMENT_KEYS, SENDGRID_KEYS, SignedIn, echoed

CLAIMS: dict[str, Any] = {
    "product": "segment",
    "console_user_id": "u1",
    "email": "pat@example.com",
    "product_user_id": "p1",
    "session_id": "s1",
    "auth_methods": ["pwd", "otp"],
    "method": "GET",
    "path": "/settings",
}


def test_product_receives_a_full_assertion(signed_in: SignedIn) -> None:
    echo = echoed(signed_in.client.get("/segment/settings"))
    assert echo["identity"] == {
        "sub": signed_in.user_id,
        "email": signed_in.email,
        "puid": "seg-user-1",
        "sid": signed_in.session_public_id,
        "amr": ["pwd", "otp"],
    }
    token = dict(echo["headers"])["X-Identity-Assertion"]
    payload = URLSafeTimedSerializer(SEGMENT_KEYS, salt=SALT).loads(token)
    assert {"iss", "aud", "sub", "email", "puid", "sid", "amr", "iat", "jti", "htm", "htp"} <= set(
        payload
    )
    assert (payload["aud"], payload["htm"], payload["htp"]) == ("segment", "GET", "/settings")
    assert signed_in.session_public_id != signed_in.token


def test_each_product_gets_its_own_audience_and_key(signed_in: SignedIn) -> None:
    assert echoed(signed_in.client.get("/sendgrid/x"))["identity"]["puid"] == "sg-user-1"
    echo = echoed(signed_in.client.get("/sendgrid/x"))
    token = dict(echo["headers"])["X-Identity-Assertion"]
    with pytest.raises(InvalidAssertion):
        AssertionVerifier("segment", SEGMENT_KEYS).verify(token, method="GET", path="/x")
    AssertionVerifier("sendgrid", SENDGRID_KEYS).verify(token, method="GET", path="/x")


def _verifier() -> AssertionVerifier:
    return AssertionVerifier("segment", SEGMENT_KEYS)


@pytest.mark.parametrize(
    ("token_of", "method", "path"),
    [
        (lambda: None, "GET", "/settings"),
        (lambda: "", "GET", "/settings"),
        (lambda: "not-a-token", "GET", "/settings"),
        (lambda: sign_assertion(["forged-key-0123456789abcdef"], **CLAIMS), "GET", "/settings"),
        (lambda: sign_assertion(SEGMENT_KEYS, **CLAIMS) + "x", "GET", "/settings"),
        (lambda: sign_assertion(SEGMENT_KEYS, **{**CLAIMS, "product": "sendgrid"}), "GET",
         "/settings"),
        (lambda: sign_assertion(SEGMENT_KEYS, **CLAIMS), "POST", "/settings"),
        (lambda: sign_assertion(SEGMENT_KEYS, **CLAIMS), "GET", "/settings/other"),
        (lambda: "x" * 9000, "GET", "/settings"),
    ],
    ids=["missing", "empty", "garbage", "forged", "tampered", "other-product", "other-method",
         "other-path", "huge"],
)
def test_bad_assertions_are_refused(token_of: Any, method: str, path: str) -> None:
    with pytest.raises(InvalidAssertion):
        _verifier().verify(token_of(), method=method, path=path)


def test_expired_and_replayed_assertions_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    token = sign_assertion(SEGMENT_KEYS, **CLAIMS)
    verifier = _verifier()
    verifier.verify(token, method="GET", path="/settings")
    with pytest.raises(InvalidAssertion, match="replayed"):
        verifier.verify(token, method="GET", path="/settings")
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 60)
    with pytest.raises(InvalidAssertion, match="expired"):
        _verifier().verify(token, method="GET", path="/settings")


def test_proxy_refuses_replay_through_product(signed_in: SignedIn) -> None:
    """A captured assertion replayed by a client is stripped; the product sees a fresh one."""
    first = echoed(signed_in.client.get("/segment/a"))
    captured = dict(first["headers"])["X-Identity-Assertion"]
    second = echoed(signed_in.client.get("/segment/a", headers={"X-Identity-Assertion": captured}))
    assert dict(second["headers"])["X-Identity-Assertion"] != captured
    assert second["identity"]["email"] == signed_in.email


def test_key_rotation_old_key_verifies_until_removed() -> None:
    old, new = "old-key-0123456789abcdef0123", "new-key-0123456789abcdef0123"
    before = sign_assertion([old], **CLAIMS)
    after = sign_assertion([old, new], **CLAIMS)
    AssertionVerifier("segment", [old, new]).verify(before, method="GET", path="/settings")
    AssertionVerifier("segment", [old, new]).verify(after, method="GET", path="/settings")
    with pytest.raises(InvalidAssertion):
        AssertionVerifier("segment", [old]).verify(after, method="GET", path="/settings")
    with pytest.raises(InvalidAssertion):
        AssertionVerifier("segment", [new]).verify(before, method="GET", path="/settings")


def test_key_file_lines() -> None:
    accepted, active = parse_key_lines(["# c", "k1", "+k3", "k2", ""])
    assert active == ["k1", "k2"]
    assert accepted[-1] == "k2" and set(accepted) == {"k1", "k2", "k3"}


def _verify_path(person: SignedIn, path: str = "/rot") -> dict:
    return dict(echoed(person.client.get("/segment" + path))["identity"])


def test_zero_downtime_rotation_with_the_cli(
    gateway: Flask, signed_in: SignedIn, tmp_path: Any
) -> None:
    """stage -> promote -> retire: a product reading the same file verifies at every step."""
    key_file = os.path.join(gateway.config["ASSERTION_KEY_DIR"], "segment.keys")
    product_keys = KeyFile(key_file, fallback=SEGMENT_KEYS, interval=0)
    products(gateway).get("segment").keys.interval = 0
    runner = gateway.test_cli_runner()

    def product_accepts() -> None:
        token = dict(echoed(signed_in.client.get("/segment/rot"))["headers"])[
            "X-Identity-Assertion"
        ]
        AssertionVerifier("segment", product_keys).verify(token, method="GET", path="/rot")

    assert runner.invoke(keys_cli, ["init", "segment"]).exit_code == 0
    product_accepts()
    old_token = dict(echoed(signed_in.client.get("/segment/rot"))["headers"])[
        "X-Identity-Assertion"
    ]
    assert runner.invoke(keys_cli, ["stage", "segment"]).exit_code == 0
    product_accepts()  # gateway still signs with the old key
    assert runner.invoke(keys_cli, ["promote", "segment"]).exit_code == 0
    product_accepts()  # gateway signs with the new key, product accepts both
    AssertionVerifier("segment", product_keys).verify(old_token, method="GET", path="/rot")
    assert runner.invoke(keys_cli, ["retire", "segment"]).exit_code == 0
    product_accepts()
    with pytest.raises(InvalidAssertion):
        AssertionVerifier("segment", product_keys).verify(old_token, method="GET", path="/rot")
    result = runner.invoke(keys_cli, ["show", "segment"])
    assert "1 active, 0 staged" in result.output
    assert SEGMENT_KEYS[0] not in result.output
    # The echo product still has only the original configured key: it now refuses.
    assert _verify_path(signed_in) == {"error": "bad signature"}


def test_rotate_command_runs_all_steps(gateway: Flask) -> None:
    runner = gateway.test_cli_runner()
    result = runner.invoke(keys_cli, ["rotate", "sendgrid", "--no-wait"])
    assert result.exit_code == 0, result.output
    key_file = os.path.join(gateway.config["ASSERTION_KEY_DIR"], "sendgrid.keys")
    with open(key_file) as handle:
        _accepted, active = parse_key_lines(handle.read().splitlines())
    assert len(active) == 1 and active[0] != SENDGRID_KEYS[0]
    assert oct(os.stat(key_file).st_mode & 0o777) == "0o600"


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


def test_unreadable_key_file_keeps_the_last_good_keys(tmp_path: Any) -> None:
    """A key file that turns unreadable (half-copied, wrong encoding) never breaks verifying."""
    key_file = os.path.join(str(tmp_path), "segment.keys")
    with open(key_file, "w", encoding="utf-8") as handle:
        handle.write("rotated-key-one\n")
    keys = KeyFile(key_file, fallback=["configured-key"], interval=0)
    assert keys.accepted() == ["rotated-key-one"]
    with open(key_file, "wb") as handle:
        handle.write(b"\xff\xfe not utf-8 \xff\n")
    assert keys.accepted() == ["rotated-key-one"]
