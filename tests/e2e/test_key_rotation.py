"""Rotating a product's assertion keys on the running stack, with no failed request.

The operator runs ``flask --app gateway keys init/stage/promote/retire`` (the same commands the
README documents) while a signed-in person keeps browsing Segment through the gateway.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from tests.support import people
from tests.support.stack import ROOT, Stack

PASSWORD = "a key rotation passphrase"


def operator(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "gateway", "keys", *args],
        cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def browse(session: object, stack: Stack, seconds: float) -> list[int]:
    statuses = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = session.get(stack.gateway_url + "/segment/", timeout=10)  # type: ignore[attr-defined]
        statuses.append(answer.status_code)
        time.sleep(0.05)
    return statuses


def test_rotation_without_a_failed_request(stack: Stack) -> None:
    email = "rotation@example.com"
    console_id = people.create_console_user(stack, email, PASSWORD)
    people.create_linked_product_user(stack, "segment", email, console_id)
    session = people.login(stack, email, PASSWORD)
    key_file = os.path.join(stack.workdir, "keys", "segment.keys")

    operator(stack, "init", "segment")
    statuses = browse(session, stack, 1.5)
    operator(stack, "stage", "segment")
    statuses += browse(session, stack, 2.5)  # every process notices the staged key
    operator(stack, "promote", "segment")
    statuses += browse(session, stack, 2.5)  # the gateway signs with the new key now
    operator(stack, "retire", "segment")
    statuses += browse(session, stack, 2.5)  # only the new key is left anywhere
    assert set(statuses) == {200}, statuses
    with open(key_file, encoding="utf-8") as handle:
        keys = [line.strip() for line in handle if line.strip() and not line.startswith("#")]
    assert len(keys) == 1 and keys[0] != stack.keys["segment"]
    assert "1 active, 0 staged" in operator(stack, "show", "segment")
