"""The demo runner (app.py) makes its secrets per run and says which environment it runs in
(issue 10's attack run, finding 13).
"""

from __future__ import annotations

import os

import pytest

import app as demo_runner
from config import DEMO_MARKER


@pytest.mark.cwe(798)
def test_demo_runner_generates_its_secrets_per_run() -> None:
    names = {"SEGMENT_SCIM_TOKEN", "SENDGRID_SCIM_TOKEN"}
    first, second = demo_runner.demo_secrets({}), demo_runner.demo_secrets({})
    assert set(first) == set(second) == names
    for name in names:
        assert first[name] != second[name]
        assert first[name].startswith(DEMO_MARKER)  # still refused in production
        assert len(first[name]) >= 32 + len(DEMO_MARKER)
    assert set(demo_runner.demo_secrets({"SEGMENT_SCIM_TOKEN": "mine"})) == names - {
        "SEGMENT_SCIM_TOKEN"}  # an operator's value is kept


@pytest.mark.cwe(1188)
def test_demo_runner_says_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    environ: dict[str, str] = {}
    monkeypatch.setattr(os, "environ", environ)
    demo_runner.demo_environment()
    assert environ["APP_ENV"] == "demo"
    assert environ["SEGMENT_SCIM_TOKEN"].startswith(DEMO_MARKER)
