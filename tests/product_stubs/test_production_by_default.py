"""A product started without APP_ENV is production and refuses the demo secrets (issue 10's
attack run, finding 13).
"""

from __future__ import annotations

import pytest

from config import ConfigError


@pytest.mark.cwe(1188)
@pytest.mark.parametrize("name", ["segment", "sendgrid"])
def test_product_without_app_env_is_production_and_refuses_demo_secrets(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from config.products import load_product

    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv(f"{name.upper()}_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="refusing to start in production"):
        load_product(name, {"DATABASE_URL": "sqlite://"}, port=5001)
