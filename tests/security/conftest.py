"""Fixtures of the security corpus and the fuzzers.

CSRF stays ON here (the gateway's test apps never switch it off). The shared fixtures come from
``tests/support`` (registered in tests/conftest.py): the echo upstreams (``gateway``,
``signed_in``), the real product apps (``products``), and product-app disposal.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from gateway.products.table import products as product_table
from tests.support.console import make_gateway_app
from tests.support.product_servers import gateway_settings as linking_settings


@pytest.fixture
def linked_gateway(
    database_url: str, products: dict[str, Any], tmp_path: Any  # noqa: F811
) -> Iterator[Flask]:
    """A gateway in front of the real Segment and SendGrid apps (linking over HTTP)."""
    settings = linking_settings(products, tmp_path) | {
        "LOGIN_MAX_FAILURES": 10_000,
        "IP_MAX_ATTEMPTS": 10_000,
    }
    app = make_gateway_app(database_url, **settings)
    yield app
    product_table(app).close()

