"""``flask --app gateway keys …`` as an operator runs it in production: the key commands run
while the gateway has no signing key yet (that is what ``keys init`` is for); every other
command, and the server, still refuse to start without one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.keys.store import KeyStore

ROOT = Path(__file__).resolve().parents[2]


def flask(tmp_path: Path, *args: str, **overrides: str) -> subprocess.CompletedProcess[str]:
    """The operator's command, in production, with strong secrets and no key yet."""
    environ = {k: v for k, v in os.environ.items() if k != "APP_ENV"}  # production: the default
    environ |= {
        "SECRET_KEY": "s" * 40, "SEGMENT_SCIM_TOKEN": "t" * 40, "SENDGRID_SCIM_TOKEN": "u" * 40,
        "ASSERTION_KEY_DIR": str(tmp_path / "keys"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/gateway.db",
        "SUPPORT_EMAIL": "help@example.com",  # production names a support route too
        "SMTP_HOST": "smtp.example.com",  # and a mail server (never contacted here)
    } | overrides
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "gateway", *args],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60,
    )


def test_keys_init_runs_in_production_without_a_key(tmp_path: Path) -> None:
    """Key commands need no key to start; nothing pushes the operator to APP_ENV=demo."""
    created = flask(tmp_path, "keys", "init")
    assert created.returncode == 0, created.stderr
    assert "created signing key" in created.stdout
    key = KeyStore(str(tmp_path / "keys")).signing_key()
    assert not key.demo
    shown = flask(tmp_path, "keys", "show")
    assert shown.returncode == 0 and key.kid in shown.stdout, shown.stderr
    assert flask(tmp_path, "db-upgrade").returncode == 0  # with the key, everything runs


@pytest.mark.parametrize("args", [
    ["db-upgrade"],
    ["create-user", "keys"],  # "keys" as an argument is not the key command
    ["sessions", "list"],
], ids=["db-upgrade", "keys-as-an-argument", "sessions"])
def test_other_commands_still_refuse_without_a_key(tmp_path: Path, args: list[str]) -> None:
    refused = flask(tmp_path, *args)
    assert refused.returncode != 0
    assert "flask keys init" in refused.stderr
    assert not (tmp_path / "keys").exists() or not os.listdir(tmp_path / "keys")


def test_key_commands_still_refuse_a_demo_secret(tmp_path: Path) -> None:
    """Only the missing key is excused: the other production checks stay."""
    refused = flask(tmp_path, "keys", "init", SECRET_KEY="demo-insecure-secret-key")
    assert refused.returncode != 0 and "SECRET_KEY" in refused.stderr
    assert not (tmp_path / "keys").exists() or not os.listdir(tmp_path / "keys")
