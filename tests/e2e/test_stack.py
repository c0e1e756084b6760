"""The stack as users meet it: real HTTP through the gateway to real product processes."""

from __future__ import annotations

import requests

from tests.support.person import Person
from tests.support.stack import Stack


def test_health_and_readiness_of_the_running_stack(stack: Stack) -> None:
    assert requests.get(stack.gateway_url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(stack.gateway_url + "/readyz", timeout=5).json()
    assert ready["status"] == "ready", ready


def test_sign_up_verify_and_sign_in_over_http(stack: Stack) -> None:
    person = Person(stack.gateway_url, "e2e-person@example.com", "an end to end passphrase")
    person.sign_up_and_log_in()
    home = person.get("/")
    assert home.status_code == 200 and "e2e-person@example.com" in home.text
