"""End-to-end fixtures: the real stack on loopback ports, and a headless Chromium."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

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
