"""Fixtures of the linking suite: a gateway in front of the real Segment and SendGrid apps
(served on loopback ports) and a person using it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from tests.support.apps import dispose
from tests.support.console import make_gateway_app
from tests.support.product_servers import Person, RunningProduct, gateway_settings


@pytest.fixture
def gateway(
    database_url: str, products: dict[str, RunningProduct], tmp_path: Any
) -> Iterator[Flask]:
    app = make_gateway_app(database_url, **gateway_settings(products, tmp_path))
    yield app
    dispose(app)


@pytest.fixture
def person(gateway: Flask) -> Person:
    return Person(gateway, gateway.test_client())
