"""The journey in a real headless Chromium through real nginx and real Caddy, each running the
shipped configuration (config/edge): sign in, link SendGrid, browse it, sign out everywhere,
and a second browser of the same person is refused by the product prefix within the bound.

(The same journey over HTTP, and every security corpus, runs through nginx and Caddy in
tests/edge.)
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import Steps, new_page
from tests.support import people
from tests.support.edge import EdgeStack, running_edge_stack

PASSWORD = "a browser behind the edge passphrase"
#: SESSION_CACHE_SECONDS (2) plus scheduling slack.
REVOCATION_BOUND = 3.5


@pytest.fixture(scope="module", params=["nginx", "caddy"])
def edge_stack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[EdgeStack]:
    workdir = str(tmp_path_factory.mktemp(f"edge-browser-{request.param}"))
    with running_edge_stack(request.param, workdir) as edge:
        yield edge


def _sign_in(page: Any, base: str, email: str) -> None:
    page.goto(base + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(base + "/")


def test_journey_through_the_edge(edge_stack: EdgeStack, browser: Any,
                                  browser_page: Steps) -> None:
    base, page, steps = edge_stack.url, browser_page.page, browser_page
    email = f"edge-browser-{edge_stack.kind}@example.com"
    people.create_console_user(edge_stack.stack, email, PASSWORD)

    page.goto(base + "/sendgrid/")  # not signed in: the edge sends the browser to sign in
    page.wait_for_url(re.compile(re.escape(base) + r"/login\?next="))
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/link/sendgrid\?next="))  # signed in, not linked yet
    steps.shot("sendgrid-choice")
    page.get_by_role("button", name="Create SendGrid user").click()
    page.wait_for_url(base + "/sendgrid/")
    expect(page.get_by_role("heading", name="Your accounts")).to_be_visible()
    expect(page.locator("body")).to_contain_text(email)
    steps.shot("inside-sendgrid")

    other = new_page(browser)  # the same person in a second browser
    _sign_in(other, base, email)
    other.goto(base + "/sendgrid/")
    expect(other.get_by_role("heading", name="Your accounts")).to_be_visible()

    page.goto(base + "/settings/sessions/revoke-all")
    page.get_by_role("button", name="Yes, sign out everywhere").click()
    page.wait_for_url(re.compile(r"/login"))
    steps.shot("signed-out-everywhere")
    started = time.monotonic()
    while True:
        other.goto(base + "/sendgrid/")
        if "/login" in other.url:
            break
        assert time.monotonic() - started < REVOCATION_BOUND, "still served after the bound"
        time.sleep(0.2)
    assert other.url.startswith(base + "/login?next="), other.url
    other.context.close()
