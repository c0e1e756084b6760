"""A real OpenID Provider on a loopback port (panva/oidc-provider, ``tests/support/oidc_provider``,
installed by ``npm ci --prefix tests/support/oidc_provider``): ``openid_provider(accounts)``
runs it; ``register`` adds a client while it runs; ``sign_in`` is a person at the
provider's login page, from the authorization URL the gateway sent the browser to, up to
the redirect back to the gateway (returned, not followed: the gateway is the test's app)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oidc_provider")


def node_or_skip() -> str:
    node = shutil.which("node")
    if node and os.path.isdir(os.path.join(HERE, "node_modules", "oidc-provider")):
        return node
    if os.environ.get("CI"):
        pytest.fail("CI is set but node or tests/support/oidc_provider/node_modules is missing "
                    "(npm ci --prefix tests/support/oidc_provider)")
    pytest.skip("node and `npm ci --prefix tests/support/oidc_provider` are needed")


def browser() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


@dataclass
class OpenIdProvider:
    issuer: str
    process: subprocess.Popen[bytes]

    def register(self, client_id: str, client_secret: str, redirect_uri: str,
                 **id_token_overrides: Any) -> None:
        """A client of the provider; ``id_token_overrides`` (``aud``, ``nonce``, ``iss``,
        ``shift_seconds``) make it hand that client ID tokens changed so, signed again."""
        client: dict[str, Any] = {"client_id": client_id, "client_secret": client_secret,
                                  "redirect_uris": [redirect_uri]}
        if id_token_overrides:
            client["id_token_overrides"] = id_token_overrides
        answer = browser().put(self.issuer + "/test/clients", json=[client], timeout=5)
        assert answer.status_code == 204, answer.text

    def sign_in(self, authorization_url: str, login: str,
                session: requests.Session | None = None) -> str:
        """The person signs in as ``login`` at the provider; the URL it sends them back to."""
        person = session or browser()
        url = authorization_url
        for _ in range(10):
            if not url.startswith(self.issuer):
                return url
            if "/interaction/" in url:
                page = person.get(url, allow_redirects=False, timeout=5)
                if page.status_code == 200:  # the login form
                    answer = person.post(url, data={"login": login}, allow_redirects=False,
                                         timeout=5)
                else:
                    answer = page
            else:
                answer = person.get(url, allow_redirects=False, timeout=5)
            assert answer.status_code in (302, 303), (answer.status_code, answer.text[:500])
            url = urljoin(url, answer.headers["Location"])
        raise AssertionError("the provider kept redirecting")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@contextmanager
def openid_provider(accounts: dict[str, dict[str, Any]], tmp_path: Any) -> Iterator[OpenIdProvider]:
    """``accounts``: login -> {"email", "email_verified"}."""
    node = node_or_skip()
    config = os.path.join(str(tmp_path), "oidc-provider.json")
    with open(config, "w", encoding="utf-8") as f:
        json.dump({"accounts": accounts}, f)
    process = subprocess.Popen([node, os.path.join(HERE, "server.mjs"), config],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=HERE)
    ready: list[str] = []
    reader = threading.Thread(target=lambda: ready.append(process.stdout.readline().decode()),
                              daemon=True)  # type: ignore[union-attr]
    reader.start()
    reader.join(timeout=20)
    if not ready or not ready[0].strip():
        process.kill()
        raise AssertionError("the OpenID Provider did not start")
    provider = OpenIdProvider(json.loads(ready[0])["issuer"], process)
    try:
        yield provider
    finally:
        provider.stop()
        if process.stdout is not None:
            process.stdout.close()
