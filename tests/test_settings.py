"""Settings of both apps: typed and checked at start, documented in one table each
(docs/operations.md for the gateway, product_stubs/README.md for the products) that must match
the code, and no test switch read from the environment."""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import pytest

from config import ConfigError, env_names, setting_types
from config.gateway import GatewaySettings, load_settings
from config.products import ProductSettings, load_product

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_ROW = re.compile(r"^\| `([^`]+)` \| (\w+) \| (.+?) \| .+ \|$")
_TYPES = {int: "int", bool: "bool", str: "text", tuple[str, ...]: "list"}


def _shown(value: Any) -> str:
    """A default as the tables write it."""
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, tuple):
        value = ",".join(value)
    if isinstance(value, str) and value.startswith(ROOT + os.sep):
        value = os.path.relpath(value, ROOT)
    return f"`{value}`" if value != "" else '`""`'


def _documented(readme: str) -> dict[str, tuple[str, str]]:
    with open(os.path.join(ROOT, readme), encoding="utf-8") as f:
        rows = (_ROW.match(line) for line in f)
        return {m.group(1): (m.group(2), m.group(3)) for m in rows if m}


def _in_code(cls: type, prefix: str = "") -> dict[str, tuple[str, str]]:
    kinds = setting_types(cls)
    table = {}
    for item in dataclasses.fields(cls):
        name = env_names(item)[0]
        name = name if not prefix or item.metadata.get("shared") else prefix + name
        table[name] = (_TYPES[kinds[item.name]], _shown(item.default))
    return table


@pytest.mark.parametrize(("readme", "cls", "prefix"), [
    ("docs/operations.md", GatewaySettings, ""),
    ("product_stubs/README.md", ProductSettings, "<P>_"),
], ids=["gateway", "products"])
def test_settings_table_lists_every_variable_with_its_type_and_default(
    readme: str, cls: type, prefix: str
) -> None:
    documented = _documented(readme)
    for name, (kind, default) in _in_code(cls, prefix).items():
        assert documented.get(name) == (kind, default), f"{readme}: {name}"
    listed = {name for name in documented if re.fullmatch(r"(<P>_)?[A-Z_]+", name)}
    assert listed == set(_in_code(cls, prefix)), f"{readme} lists variables the code lacks"


@pytest.mark.parametrize(("variable", "value"), [
    ("SMTP_PORT", "0"),
    ("SMTP_PORT", "many"),
    ("COOKIE_SECURE", "perhaps"),
    ("ASSERTION_MAX_AGE", "61"),
    ("SESSION_CACHE_SECONDS", "-1"),
    ("LOGIN_MAX_FAILURES", "0"),
    ("REQUEST_BODY_CONCURRENCY", "0"),
    ("TRUSTED_PROXY_HOPS", "-1"),
    ("FORWARD_AUTH_ALLOW", "10.0.0.0/8,not-a-network"),
    ("METRICS_ALLOW", "localhost"),
    ("PUBLIC_URL", "login.example.com"),
    ("PUBLIC_URL", "javascript:alert(1)"),
    ("APP_ENV", "prod"),
    ("DNS_RESOLVER", "dns.example.com"),
    ("DNS_RESOLVER", "127.0.0.1:0"),
    ("DNS_RESOLVER", "[::1]x"),
])
def test_bad_gateway_value_stops_the_start_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        load_settings(environ={"APP_ENV": "test", variable: value})


@pytest.mark.parametrize(("variable", "value"), [
    ("SEGMENT_ASSERTION_SKEW", "600"),
    ("SEGMENT_LOGIN_WINDOW_SECONDS", "0"),
    ("SEGMENT_SITE_URL", "segment.example.com"),
    ("GATEWAY_PUBLIC_URL", "ftp://login.example.com"),
    ("SEGMENT_SESSION_COOKIE_SAMESITE", "sometimes"),
])
def test_bad_product_value_stops_the_start_naming_the_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"^{variable}: "):
        load_product("segment", port=5001, environ={"APP_ENV": "test", variable: value})


def test_a_test_mapping_of_the_wrong_type_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="^LOGIN_MAX_FAILURES: "):
        load_settings({"LOGIN_MAX_FAILURES": True}, environ={"APP_ENV": "test"})


def test_gateway_ignores_test_switches_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # Production code honours no test switch from the environment, whatever APP_ENV says.
    from gateway import create_app, db
    from gateway.identity.passwords import hash_password
    from tests.support.keys import shared_store

    monkeypatch.setenv("PASSWORD_HASH_FAST", "1")
    monkeypatch.setenv("BACKGROUND_WORK", "0")
    app = create_app({"APP_ENV": "test", "DATABASE_URL": f"sqlite:///{tmp_path}/g.db",
                      "ASSERTION_KEY_DIR": shared_store().folder})
    try:
        with app.app_context():
            assert hash_password("a password of mine").startswith("$argon2id$v=19$m=19456,t=2")
        assert "gateway.background" in app.extensions
    finally:
        db.engine(app).dispose()


def test_products_ignore_test_switches_in_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from product_stubs import segment

    monkeypatch.setenv("SEGMENT_PASSWORD_HASH_FAST", "1")
    app = segment.create_app({"APP_ENV": "test", "DATABASE_URL": f"sqlite:///{tmp_path}/s.db"})
    stored = app.extensions["product_passwords"].hash("a password of mine")
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert "internal_test.set_faults" not in app.view_functions  # APP_ENV=test is not enough


@pytest.mark.parametrize("key", ["PASSWORD_HASH_FAST", "BACKGROUND_WORK"])
def test_retired_test_keys_in_a_test_mapping_are_refused(key: str) -> None:
    with pytest.raises(ConfigError, match="test-only switch"):
        load_settings({key: True}, environ={"APP_ENV": "test"})


def test_public_url_alone_names_the_products_issuer() -> None:
    environ = {"APP_ENV": "demo", "PUBLIC_URL": "http://localhost:5000/"}
    assert load_product("segment", port=5001, environ=environ)["GATEWAY_PUBLIC_URL"] == (
        "http://localhost:5000")
    environ["GATEWAY_PUBLIC_URL"] = "https://login.example.com"  # the product's own wins
    assert load_product("segment", port=5001, environ=environ)["GATEWAY_PUBLIC_URL"] == (
        "https://login.example.com")


def test_a_test_mapping_may_give_a_list_of_networks() -> None:
    loaded = load_settings({"FORWARD_AUTH_ALLOW": ["127.0.0.1/32"]}, environ={"APP_ENV": "test"})
    assert loaded.settings.FORWARD_AUTH_ALLOW == ("127.0.0.1/32",)
