"""A product that goes away, fails or hangs: clear pages, nothing half-done, recovery by itself."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.support.faulty_port import READ_TIMEOUT, FaultyPort
from tests.support.person import Person
from tests.support.stack import Stack

pytestmark = pytest.mark.e2e

PASSWORD = "a passphrase for bad days"
HTML = {"Accept": "text/html"}


def person(stack: Stack, linked: bool = True) -> Person:
    someone = Person(stack.gateway_url, f"fault-{uuid.uuid4().hex[:10]}@example.com", PASSWORD)
    someone.sign_up_and_verify()
    if linked:
        someone.create_product_user("segment")
    return someone


def assert_clear_page(answer: requests.Response, status: int, words: str) -> None:
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    assert answer.headers["Content-Type"].startswith("text/html")
    assert words in answer.text
    for leak in ("Traceback", "File \"/", "Exception", "werkzeug", "sqlalchemy"):
        assert leak not in answer.text
    assert answer.headers.get("X-Request-ID")


def segment_ready(stack: Stack) -> str:
    return str(requests.get(stack.gateway_url + "/readyz", timeout=5).json()["checks"]["segment"])


def test_product_stopped_and_restarted_mid_journey(stack: Stack) -> None:
    someone = person(stack, linked=False)
    assert someone.get("/segment/", headers=HTML).headers["Location"].startswith("/link/segment")
    stack.stop("segment")
    try:
        # Linking while the product is down: a retry page, and nothing recorded.
        answer = someone.post_form("/link/segment", "/link/segment/new", {"next": "/segment/"})
        assert_clear_page(answer, 503, "could not be reached")
        assert someone.get("/link/segment").status_code == 200  # still not linked
        assert segment_ready(stack) == "unavailable"
        assert someone.signed_in()  # the Console keeps working
    finally:
        stack.start("segment")
    someone.create_product_user("segment")
    assert someone.get("/segment/settings").status_code == 200

    stack.stop("segment")
    try:
        started = time.monotonic()
        answer = someone.get("/segment/settings", headers=HTML)
        assert_clear_page(answer, 502, "did not answer")
        assert time.monotonic() - started < 3
        api = someone.get("/segment/settings", headers={"Accept": "application/json"})
        assert api.status_code == 502 and api.json()["status"] == 502
    finally:
        stack.start("segment")
    # Recovered by itself: the very next request works, no gateway restart.
    answer = someone.get("/segment/settings", headers=HTML)
    assert answer.status_code == 200 and someone.email in answer.text
    assert segment_ready(stack) == "ok"


def test_product_refusing_connections_gives_502(stack: Stack, segment_port: FaultyPort) -> None:
    someone = person(stack)
    segment_port.set_mode("refuse")
    assert_clear_page(someone.get("/segment/settings", headers=HTML), 502, "did not answer")
    segment_port.set_mode("forward")
    assert someone.get("/segment/settings").status_code == 200


def test_product_that_hangs_gives_504_within_the_read_timeout(
    stack: Stack, segment_port: FaultyPort
) -> None:
    someone = person(stack)
    segment_port.set_mode("hang")
    started = time.monotonic()
    answer = someone.get("/segment/settings", headers=HTML)
    elapsed = time.monotonic() - started
    assert_clear_page(answer, 504, "took too long")
    assert READ_TIMEOUT - 0.2 <= elapsed < READ_TIMEOUT + 2
    assert someone.signed_in()  # a stuck product does not take the Console with it
    segment_port.set_mode("forward")
    assert someone.get("/segment/settings").status_code == 200


def test_product_answering_500_is_relayed_and_the_gateway_stays_up(
    stack: Stack, segment_port: FaultyPort
) -> None:
    someone = person(stack)
    segment_port.set_mode("http500")
    for _ in range(3):
        answer = someone.get("/segment/settings", headers=HTML)
        assert answer.status_code == 500
        assert answer.text == "product-side failure\n"  # the product's own error, untouched
        assert answer.headers.get("X-Request-ID")
    assert someone.signed_in()
    segment_port.set_mode("forward")
    assert someone.get("/segment/settings").status_code == 200


def test_product_api_failing_with_500_while_creating_a_user_changes_nothing(
    stack: Stack,
) -> None:
    """The product's own fault switch makes its provisioning API answer 500."""
    someone = person(stack, linked=False)
    faults = stack.url("segment") + "/internal/test/faults"
    scim = stack.scim("segment")
    assert scim.post(faults, json={"fail": ["scim_post"]}, timeout=5).status_code == 200
    try:
        answer = someone.post_form("/link/segment", "/link/segment/new", {"next": "/segment/"})
        assert_clear_page(answer, 503, "nothing was linked or created")
        users = scim.get(
            stack.url("segment") + "/scim/v2/Users",
            params={"filter": f'userName eq "{someone.email}"'}, timeout=5,
        ).json()
        assert users["totalResults"] == 0
        assert someone.get("/segment/", headers=HTML).headers["Location"].startswith("/link/")
    finally:
        assert scim.post(faults, json={"fail": []}, timeout=5).status_code == 200
    someone.create_product_user("segment")
    assert someone.get("/segment/settings").status_code == 200
