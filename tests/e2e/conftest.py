"""End-to-end fixtures: the real stack on loopback ports, and a headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.browser import Steps, chromium, new_page
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(str(tmp_path_factory.mktemp("stack"))) as running:
        yield running


CHROMIUM = "/usr/bin/chromium"


def chromium_or_skip() -> str:
    if os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail("REQUIRE_BROWSER is set but /usr/bin/chromium is missing")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)")


@pytest.fixture
def browser() -> Iterator[Any]:
    """A headless Chromium for one test (skipped, or failed under REQUIRE_BROWSER, without it)."""
    with chromium(chromium_or_skip()) as launched:
        yield launched


@pytest.fixture
def browser_page(browser: Any, request: pytest.FixtureRequest) -> Steps:
    """One page in a fresh context, with numbered screenshots for this test."""
    return Steps(new_page(browser), request.node.name)
