"""The ``cwe`` marker (tests/support/cwe_marker.py): a number is required, and ``-m cwe``
selects the attack-derived tests wherever they live."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _collect(tmp_path: Path, marker: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(
        f"import pytest\n\n@pytest.mark.{marker}\ndef test_sample():\n    pass\n"
    )
    (tmp_path / "pytest.ini").write_text("[pytest]\nmarkers =\n    cwe(number): test\n")
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.support.cwe_marker", "--collect-only",
         "-q", "-c", str(tmp_path / "pytest.ini"), str(tmp_path / "test_sample.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )


@pytest.mark.parametrize("marker", ['cwe("640")', "cwe()", "cwe(640, 287)", "cwe(0)", "cwe"])
def test_a_cwe_marker_without_one_number_stops_the_collection(
    tmp_path: Path, marker: str
) -> None:
    answer = _collect(tmp_path, marker)
    assert answer.returncode != 0
    assert "@pytest.mark.cwe takes" in answer.stdout + answer.stderr


def test_a_cwe_marker_with_a_number_is_collected(tmp_path: Path) -> None:
    answer = _collect(tmp_path, "cwe(640)")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "test_sample.py::test_sample" in answer.stdout


def test_minus_m_cwe_lists_the_attack_derived_tests_of_every_suite() -> None:
    answer = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "cwe", "--collect-only", "-q", "tests"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )
    assert answer.returncode == 0, answer.stdout[-2000:] + answer.stderr[-2000:]
    suites = {line.split("/")[1] for line in answer.stdout.splitlines() if "::" in line}
    assert {"console", "proxy", "product_stubs"} <= suites
