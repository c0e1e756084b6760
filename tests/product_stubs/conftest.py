"""Fixtures of the product-app suite: every test runs against Segment and SendGrid."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.support.product_apps import PRODUCTS, Helper, make_product_app


@pytest.fixture(params=PRODUCTS)
def product(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def module(product: str) -> ModuleType:
    return importlib.import_module(f"product_stubs.{product}")


@pytest.fixture
def app(module: ModuleType, product: str, tmp_path: Any) -> Flask:
    return make_product_app(module, product, tmp_path)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def h(app: Flask, client: FlaskClient, product: str) -> Iterator[Helper]:
    yield Helper(app, client, product)
