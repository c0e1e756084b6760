"""Shared helpers for the Playwright journeys in a real headless Chromium (Debian's package).

Each test gets a fresh browser context (``browser_page`` fixture in ``tests/e2e/conftest.py``);
``Steps.shot`` saves ``test-artifacts/screenshots/<test>/NN-step.png`` (gitignored).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pyotp

from tests.support.stack import ROOT

#: Chromium flags for a container: no sandbox (no user namespaces), nothing phoning home.
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
TIMEOUT_MS = 15_000


class Steps:
    """Screenshots numbered in order: test-artifacts/screenshots/<test>/NN-step.png."""

    def __init__(self, page: Any, test_name: str) -> None:
        self.page = page
        self.folder = os.path.join(ROOT, "test-artifacts", "screenshots", test_name)
        os.makedirs(self.folder, exist_ok=True)
        for old in os.listdir(self.folder):  # a rerun does not mix with an older run's steps
            if old.endswith(".png"):
                os.remove(os.path.join(self.folder, old))
        self.count = 0

    def shot(self, step: str, page: Any = None) -> None:
        self.count += 1
        (page or self.page).screenshot(
            path=os.path.join(self.folder, f"{self.count:02d}-{step}.png"), full_page=True
        )


@contextmanager
def chromium(executable: str) -> Iterator[Any]:
    """A launched headless Chromium (Playwright ``Browser``), closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_page(browser: Any) -> Any:
    """A page in a new context (its own cookie jar: another browser profile)."""
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    return page


def sign_in(steps: Steps, gateway: str, email: str, password: str,
            totp_secret: str | None = None) -> None:
    """Sign in on the gateway's login page (with the authenticator's code when
    ``totp_secret`` is given) and land on the Console home."""
    page = steps.page
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    steps.shot("console-sign-in")
    page.get_by_role("button", name="Sign in").click()
    if totp_secret is not None:
        page.wait_for_url(gateway + "/login/2fa")
        page.get_by_label("Authentication code").fill(pyotp.TOTP(totp_secret).now())
        page.get_by_role("button", name=re.compile("^(Verify|Continue|Sign in)")).click()
    page.wait_for_url(gateway + "/")
    steps.shot("console-home")


def switcher(page: Any) -> Any:
    return page.get_by_role("navigation", name="Product switcher")


def switcher_link(page: Any, product: str) -> Any:
    return switcher(page).locator(f'a[data-product="{product}"]')


def is_linked(page: Any, product: str) -> bool:
    """What the switcher says about ``product`` ("linked" / "not linked")."""
    text = " ".join(switcher_link(page, product).inner_text().split())
    assert re.search(r"\b(not )?linked\b", text), text
    return "not linked" not in text
