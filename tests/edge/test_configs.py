"""The shipped edge configurations, read as text: every identity header the built-in proxy
strips is stripped by Caddy, none is on nginx's allow-list, and rendering only swaps addresses.
(The same files run for real in test_through_edge.py.)"""

from __future__ import annotations

import os
import re

import pytest

from config import edge as edge_config
from gateway.proxy import headers as hdr

CADDYFILE = os.path.join(edge_config.HERE, "Caddyfile")
NGINX_PRODUCT = os.path.join(edge_config.HERE, "gateway_product.conf")


def _read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_caddy_deletes_every_identity_name_prefix_and_underscored_name() -> None:
    text = _read(CADDYFILE)
    deleted = {m.lower() for m in re.findall(r"request_header -(\S+)", text)}
    for name in hdr.IDENTITY_HEADERS:
        covered = name in deleted or any(
            name.startswith(d[:-1]) for d in deleted if d.endswith("*")
        )
        assert covered, name
    for prefix in hdr.IDENTITY_PREFIXES:
        assert prefix + "*" in deleted, prefix
    assert "*_*" in deleted  # underscored spellings, which Caddy passes on
    # Per product route and for the Console: the same strip list three times.
    assert text.count("request_header -*_*") == 3


def test_nginx_passes_only_an_allow_list_to_products() -> None:
    text = _read(NGINX_PRODUCT)
    assert "proxy_pass_request_headers off;" in text
    for name in re.findall(r"proxy_set_header (\S+) \$http_", text):
        assert not hdr.is_identity_header(name), name
    assert "proxy_set_header Cookie $gw_cookie;" in text
    assert "underscores_in_headers off;" in _read(os.path.join(edge_config.HERE, "nginx.conf"))


@pytest.mark.parametrize("kind", edge_config.EDGES)
def test_shipped_files_are_the_generated_ones(kind: str) -> None:
    """config/edge is what `flask --app gateway edge` prints for the shipped products file: an
    edit to a shipped file that the templates lack would be lost at the next generation."""
    for name, text in edge_config.generate(kind).items():
        assert _read(os.path.join(edge_config.HERE, name)) == text, name


@pytest.mark.parametrize("kind", edge_config.EDGES)
def test_the_edge_command_prints_the_configuration(kind: str) -> None:
    from gateway import create_app

    app = create_app({"APP_ENV": "test", "DATABASE_URL": "sqlite://"})
    result = app.test_cli_runner().invoke(args=["edge", kind])
    assert result.exit_code == 0, result.output
    assert result.output == _read(os.path.join(edge_config.HERE, edge_config.FILES[kind][0]))


@pytest.mark.parametrize("kind", edge_config.EDGES)
def test_render_swaps_only_the_addresses(tmp_path: object, kind: str) -> None:
    folder = str(tmp_path)
    main = edge_config.render(kind, folder, listen="127.0.0.1:18080", gateway="127.0.0.1:15000",
                              answers="127.0.0.1:15010",
                              segment="127.0.0.1:15001", sendgrid="127.0.0.1:15002")
    rendered = _read(main)
    original = _read(os.path.join(edge_config.HERE, os.path.basename(main)))
    defaults = {"listen": "127.0.0.1:8080", "gateway": "127.0.0.1:5000",
                "answers": "127.0.0.1:5010",
                "segment": "127.0.0.1:5001", "sendgrid": "127.0.0.1:5002"}
    for default in defaults.values():
        assert default not in rendered
    swapped = original
    for key, value in {"listen": "18080", "gateway": "15000", "answers": "15010",
                       "segment": "15001", "sendgrid": "15002"}.items():
        swapped = swapped.replace(defaults[key], "127.0.0.1:" + value).replace(
            ":" + defaults[key].rsplit(":", 1)[1] + ",", ":" + value + ",").replace(
            ":" + defaults[key].rsplit(":", 1)[1] + ".", ":" + value + ".")
    assert rendered == swapped


def test_a_missing_edge_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(edge_config.shutil, "which", lambda *_a, **_k: None)
    with pytest.raises(edge_config.EdgeMissing, match="apt-get install nginx-light"):
        edge_config.binary("nginx")
    with pytest.raises(edge_config.EdgeMissing, match="apt-get install caddy"):
        edge_config.binary("caddy")
