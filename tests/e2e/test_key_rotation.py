"""Rotating the gateway's signing key on the running stack, with no failed request and no
product configuration change.

The operator runs ``flask --app gateway keys stage/promote/retire`` (the commands the README
documents) while a signed-in person keeps browsing Segment through the gateway. The products
know nothing but the gateway's JWKS URL; ``JWKS_MAX_AGE`` is short here so that waiting one
max-age after ``stage`` (as the operator must) takes seconds.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import jwt
import pytest
import requests

from tests.support import people
from tests.support.stack import ROOT, Stack, running_stack

PASSWORD = "a key rotation passphrase"
JWKS_MAX_AGE = 2


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(str(tmp_path_factory.mktemp("rotation")),
                       JWKS_MAX_AGE=str(JWKS_MAX_AGE)) as running:
        yield running


def operator(stack: Stack, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "gateway", "keys", *args],
        cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def browse(session: requests.Session, stack: Stack, seconds: float) -> list[int]:
    statuses = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = session.get(stack.gateway_url + "/segment/", timeout=10)
        statuses.append(answer.status_code)
        time.sleep(0.05)
    return statuses


def published(stack: Stack) -> list[str]:
    answer = requests.get(stack.gateway_url + "/.well-known/jwks.json", timeout=5)
    assert answer.headers["Cache-Control"] == f"public, max-age={JWKS_MAX_AGE}"
    return [key["kid"] for key in answer.json()["keys"]]


def test_rotation_without_a_failed_request(stack: Stack) -> None:
    email = "rotation@example.com"
    console_id = people.create_console_user(stack, email, PASSWORD)
    people.create_linked_product_user(stack, "segment", email, console_id)
    session = people.sign_in(stack, email, PASSWORD)
    product_env = {k: v for k, v in stack.env.items() if k.startswith(("SEGMENT_", "GATEWAY_"))}

    statuses = browse(session, stack, 1.0)  # Segment fetched and cached the JWKS
    [first] = published(stack)
    operator(stack, "stage")
    statuses += browse(session, stack, JWKS_MAX_AGE + 1.5)  # every product cache learns it
    staged, again = published(stack)
    assert again == first  # the staged key is listed first
    operator(stack, "promote")
    statuses += browse(session, stack, 2.0)  # the gateway signs with the new key
    operator(stack, "retire")
    statuses += browse(session, stack, 2.0)  # the old key is on its way out of the JWKS
    assert set(statuses) == {200}, statuses
    assert published(stack) == [staged, first]  # still listed during the grace period
    shown = operator(stack, "show")
    assert f"{staged} active" in shown and f"{first} retiring" in shown
    # Products were never told anything: same settings, same processes, no restart.
    assert product_env == {k: v for k, v in stack.env.items()
                           if k.startswith(("SEGMENT_", "GATEWAY_"))}
    assert stack.processes["segment"].poll() is None


def test_segment_refuses_a_token_under_an_unpublished_key(stack: Stack) -> None:
    """The same running Segment, asked directly with a key the JWKS never listed: 401."""
    from tests.support.keys import stranger_key

    key = stranger_key()
    token = jwt.encode({"iss": stack.gateway_url, "aud": "segment", "sub": "x"},
                       key.private_key, algorithm="ES256", headers={"kid": key.kid})
    answer = requests.get(stack.url("segment") + "/", headers={
        "X-Identity-Assertion": token, "Accept": "application/json"}, timeout=15)
    assert answer.status_code == 401
