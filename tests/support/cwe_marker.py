"""``@pytest.mark.cwe(NNN)``: a test derived from an attack (an attack run, a review, an
advisory) names the weakness it guards against, by its CWE number.

The test itself lives beside the package it exercises, in a file named by behaviour; the marker
keeps the attack-derived tests findable as one set: ``pytest -m cwe`` runs them all, and
``pytest -m cwe --collect-only -q`` lists them. A marker without exactly one positive int
(``cwe("640")``, ``cwe()``, ``cwe(640, 287)``) stops the collection: a typo would otherwise hide
a test from the set. Registered in ``tests/conftest.py`` (``pytest_plugins``) and pyproject.
"""

from __future__ import annotations

import pytest


def _problem(marker: pytest.Mark) -> str | None:
    if marker.kwargs or len(marker.args) != 1:
        return "takes exactly one CWE number"
    number = marker.args[0]
    if isinstance(number, bool) or not isinstance(number, int) or number <= 0:
        return f"takes a positive int, not {number!r}"
    return None


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    bad = [
        f"{item.nodeid}: @pytest.mark.cwe {problem}"
        for item in items
        for marker in item.iter_markers("cwe")
        if (problem := _problem(marker))
    ]
    if bad:
        raise pytest.UsageError("\n".join(bad))
