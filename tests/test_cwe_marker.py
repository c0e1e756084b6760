"""The ``cwe`` marker (tests/support/cwe_marker.py): a number is required, and ``-m cwe``
selects the attack-derived tests wherever they live. The marker's rule is checked by pytest
run in this process (``pytester``): a pytest subprocess per case took seconds each."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _collect(pytester: pytest.Pytester, marker: str) -> pytest.RunResult:
    pytester.makepyfile(
        test_sample=f"import pytest\n\n@pytest.mark.{marker}\ndef test_sample():\n    pass\n"
    )
    pytester.makeini("[pytest]\nmarkers =\n    cwe(number): test\n")
    # Only the marker's plugin: the installed ones (hypothesis, xdist...) cost a second a run.
    return pytester.runpytest_inprocess("--disable-plugin-autoload", "-p",
                                        "tests.support.cwe_marker", "--collect-only", "-q")


@pytest.mark.parametrize("marker", ['cwe("640")', "cwe()", "cwe(640, 287)", "cwe(0)", "cwe"])
def test_a_cwe_marker_without_one_number_stops_the_collection(
    pytester: pytest.Pytester, marker: str
) -> None:
    answer = _collect(pytester, marker)
    assert answer.ret == pytest.ExitCode.USAGE_ERROR
    assert "@pytest.mark.cwe takes" in str(answer.stdout) + str(answer.stderr)


def test_a_cwe_marker_with_a_number_is_collected(pytester: pytest.Pytester) -> None:
    answer = _collect(pytester, "cwe(640)")
    assert answer.ret == pytest.ExitCode.OK, str(answer.stdout) + str(answer.stderr)
    assert "test_sample.py::test_sample" in answer.outlines


def test_minus_m_cwe_lists_the_attack_derived_tests_of_every_suite(
    pytester: pytest.Pytester,
) -> None:
    """A pytest process of its own, unlike the tests above: collecting the whole tree in this
    process left the xdist worker printing "Exception ignored ... unclosed file
    .pytest-exclusive.lock" at its exit (cause not found; the tests passed)."""
    answer = pytester.runpytest_subprocess("-m", "cwe", "--collect-only", "-q",
                                           str(ROOT / "tests"), timeout=120)
    assert answer.ret == pytest.ExitCode.OK, str(answer.stdout)[-2000:] + str(answer.stderr)
    suites = {line.split("/")[1] for line in answer.outlines if "::" in line}
    assert {"console", "proxy", "product_stubs"} <= suites
