"""The stack as users meet it: real HTTP through the gateway to real product processes."""

from __future__ import annotations

import re

import requests

from tests.support.stack import Stack


def browser_session() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def sign_up_and_in(stack: Stack, email: str, password: str) -> requests.Session:
    """A person signs up, confirms the mailed link (developer mailbox), and signs in."""
    browser = browser_session()
    gw = stack.gateway_url
    page = browser.get(gw + "/signup").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    assert browser.post(gw + "/signup", data={"csrf_token": token, "email": email,
                                             "password": password}).status_code == 200
    mailbox = browser.get(gw + "/dev/mailbox").text
    link = re.search(r'href="(' + re.escape(gw) + r'/verify-email\?token=[^"]+)"', mailbox)
    assert link, "verification mail not in the developer mailbox"
    confirm = browser.get(link.group(1).replace("&amp;", "&")).text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', confirm).group(1)  # type: ignore[union-attr]
    verify_token = re.search(r'name="token" value="([^"]+)"', confirm).group(1)  # type: ignore[union-attr]
    assert browser.post(gw + "/verify-email", data={"csrf_token": csrf, "token": verify_token}
                        ).status_code == 200
    page = browser.get(gw + "/login").text
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    response = browser.post(gw + "/login", data={"csrf_token": csrf, "email": email,
                                                "password": password}, allow_redirects=False)
    assert response.status_code == 302
    return browser


def test_health_and_readiness_of_the_running_stack(stack: Stack) -> None:
    assert requests.get(stack.gateway_url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(stack.gateway_url + "/readyz", timeout=5).json()
    assert ready["status"] == "ready", ready


def test_sign_up_verify_and_sign_in_over_http(stack: Stack) -> None:
    browser = sign_up_and_in(stack, "e2e-person@example.com", "an end to end passphrase")
    home = browser.get(stack.gateway_url + "/")
    assert home.status_code == 200 and "e2e-person@example.com" in home.text
