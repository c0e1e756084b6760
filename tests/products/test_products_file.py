"""The products file (PRODUCTS_FILE): checked at start into typed records; a bad entry stops
the start with a message naming the entry and the field, never a KeyError later."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from config import ConfigError, products_file
from config.gateway import load_settings

LINKED: dict[str, Any] = {
    "name": "notes", "title": "Notes", "prefix": "/notes", "upstream": "http://127.0.0.1:5003",
    "accounts": "linked", "scim_url": "/scim/v2", "scim_token_env": "NOTES_SCIM_TOKEN",
    "link_url": "/internal/link", "container": "notebook",
    "internal_paths": ["/scim", "/internal"],
}
NONE: dict[str, Any] = {
    "name": "wiki", "title": "Wiki", "prefix": "/wiki", "upstream": "http://127.0.0.1:5004",
    "accounts": "none",
}


def _with(entry: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = copy.deepcopy(entry)
    for key, value in changes.items():
        if value is None:
            changed.pop(key)
        else:
            changed[key] = value
    return changed


def test_the_shipped_file_describes_segment_and_sendgrid() -> None:
    specs = products_file.load(products_file.DEFAULT_FILE)
    assert [(s.name, s.title, s.prefix, s.accounts) for s in specs] == [
        ("segment", "Segment", "/segment", "linked"),
        ("sendgrid", "SendGrid", "/sendgrid", "linked"),
    ]
    assert [s.linked.container for s in specs if s.linked] == ["workspace", "account"]


def test_a_product_without_accounts_needs_no_linking_fields() -> None:
    (spec,) = products_file.parse({"products": [NONE]})
    assert spec.linked is None and spec.public_paths == () and spec.internal_paths == ()


@pytest.mark.parametrize(
    ("entry", "field"),
    [
        pytest.param(_with(LINKED, name="Notes"), "name", id="upper-case-name"),
        pytest.param(_with(LINKED, name="console"), "name", id="reserved-name"),
        pytest.param(_with(LINKED, name=None), "name", id="missing-name"),
        pytest.param(_with(LINKED, title=None), "title", id="missing-title"),
        pytest.param(_with(LINKED, title="<script>"), "title", id="markup-title"),
        pytest.param(_with(LINKED, prefix="notes"), "prefix", id="relative-prefix"),
        pytest.param(_with(LINKED, prefix="/"), "prefix", id="root-prefix"),
        pytest.param(_with(LINKED, prefix="/notes/"), "prefix", id="trailing-slash"),
        pytest.param(_with(LINKED, prefix="/a/../b"), "prefix", id="dot-segments"),
        pytest.param(_with(LINKED, upstream="ftp://x"), "upstream", id="not-http"),
        pytest.param(_with(LINKED, upstream="http://u:p@x"), "upstream", id="credentials"),
        pytest.param(_with(LINKED, upstream="http://x/app"), "upstream", id="path"),
        pytest.param(_with(LINKED, upstream="http://x:port"), "upstream", id="bad-port"),
        pytest.param(_with(LINKED, accounts="some"), "accounts", id="unknown-accounts"),
        pytest.param(_with(LINKED, scim_url=None), "scim_url", id="linked-without-scim"),
        pytest.param(_with(LINKED, scim_token_env="notes token"), "scim_token_env",
                     id="bad-variable"),
        pytest.param(_with(LINKED, internal_paths=["/internal"]), "scim_url",
                     id="scim-reachable-through-proxy"),
        pytest.param(_with(LINKED, internal_paths=["/scim"]), "link_url",
                     id="linking-reachable-through-proxy"),
        pytest.param(_with(LINKED, container=3), "container", id="container-not-text"),
        pytest.param(_with(NONE, container="team"), "container", id="none-with-linking-field"),
        pytest.param(_with(LINKED, public_paths="/login"), "public_paths", id="paths-not-list"),
        pytest.param(_with(LINKED, public_paths=["login"]), "public_paths", id="relative-path"),
        pytest.param(_with(LINKED, prefx="/n"), "prefx", id="unknown-field"),
    ],
)
def test_a_bad_entry_names_the_entry_and_the_field(entry: dict[str, Any], field: str) -> None:
    with pytest.raises(products_file.ProductsFileError) as caught:
        products_file.parse({"products": [NONE, entry]}, source="products.toml")
    message = str(caught.value)
    assert "products.toml" in message and "entry #2" in message and repr(field) in message


@pytest.mark.parametrize(
    ("second", "field"),
    [
        pytest.param(_with(NONE, prefix="/other"), "name", id="same-name"),
        pytest.param(_with(NONE, name="other"), "prefix", id="same-prefix"),
        pytest.param(_with(NONE, name="other", prefix="/wiki/inner"), "prefix", id="nested"),
    ],
)
def test_entries_that_clash_are_refused(second: dict[str, Any], field: str) -> None:
    with pytest.raises(products_file.ProductsFileError, match=repr(field)):
        products_file.parse({"products": [NONE, second]})


def test_an_unreadable_file_stops_the_start(tmp_path: Any) -> None:
    bad = tmp_path / "products.toml"
    bad.write_text("[[products]\nname = 'x'")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"APP_ENV": "test", "PRODUCTS_FILE": str(bad)}, environ={})
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings({"APP_ENV": "test", "PRODUCTS_FILE": str(tmp_path / "none")}, environ={})


def test_the_retired_products_list_is_refused_with_directions() -> None:
    """``PRODUCTS=segment,sendgrid,x`` used to fail with ``KeyError 'X_PREFIX'``."""
    with pytest.raises(ConfigError, match="PRODUCTS_FILE"):
        load_settings({"APP_ENV": "test"}, environ={"PRODUCTS": "segment,sendgrid,x"})


def test_an_upstream_override_is_checked_like_the_file() -> None:
    settings = load_settings({"APP_ENV": "test", "SEGMENT_UPSTREAM": "http://10.0.0.7:81"},
                             environ={})
    assert settings.products[0].upstream == "http://10.0.0.7:81"
    with pytest.raises(ConfigError, match="SEGMENT_UPSTREAM"):
        load_settings({"APP_ENV": "test"}, environ={"SEGMENT_UPSTREAM": "http://x/app"})


def test_production_needs_the_token_each_linked_entry_names(tmp_path: Any) -> None:
    file = tmp_path / "products.toml"
    file.write_text(
        '[[products]]\nname = "notes"\ntitle = "Notes"\nprefix = "/notes"\n'
        'upstream = "http://127.0.0.1:5003"\naccounts = "linked"\nscim_url = "/scim/v2"\n'
        'scim_token_env = "NOTES_SCIM_TOKEN"\nlink_url = "/internal/link"\n'
        'container = "notebook"\ninternal_paths = ["/scim", "/internal"]\n'
    )
    strong = {"APP_ENV": "production", "SECRET_KEY": "s" * 40, "PRODUCTS_FILE": str(file),
              "SUPPORT_EMAIL": "help@example.com", "SMTP_HOST": "mail.example"}
    with pytest.raises(ConfigError, match="NOTES_SCIM_TOKEN"):
        load_settings(strong, environ={})
    settings = load_settings(strong, environ={"NOTES_SCIM_TOKEN": "t" * 40})
    assert settings.scim_tokens["NOTES_SCIM_TOKEN"] == "t" * 40
