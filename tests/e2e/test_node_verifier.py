"""A backend in another language verifies the gateway's assertion with stock libraries.

``tests/e2e/node_verifier/server.mjs`` (Node.js, the ``jose`` npm package, installed by
``.ci/run`` with ``npm ci``) stands in for Segment's backend behind the running gateway; it
knows only the gateway's JWKS URL, its issuer and its own audience. The real gateway signs the
valid assertion; the hostile ones are built from it (or signed with the gateway's own key for
the expired and other-audience cases) and sent to the Node backend directly.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator

import pytest
import requests

from gateway.keys.store import KeyStore
from gateway.proxy.signing import sign_assertion
from tests.support import people
from tests.support.keys import craft, hs256_with_public_key, parts
from tests.support.stack import Stack, free_port, running_stack, wait_until_up

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node_verifier")
PASSWORD = "a node verifier passphrase"


def node_or_skip() -> str:
    node = shutil.which("node")
    if node and os.path.isdir(os.path.join(HERE, "node_modules", "jose")):
        return node
    if os.environ.get("CI"):
        pytest.fail("CI is set but node or tests/e2e/node_verifier/node_modules is missing "
                    "(npm ci --prefix tests/e2e/node_verifier)")
    pytest.skip("node and `npm ci --prefix tests/e2e/node_verifier` are needed")


@pytest.fixture(scope="module")
def node_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    node = node_or_skip()
    port = free_port()
    children: list[subprocess.Popen[bytes]] = []

    def put_node_behind_the_gateway(stack: Stack) -> None:
        log = open(os.path.join(stack.workdir, "node.log"), "ab")  # noqa: SIM115
        children.append(subprocess.Popen(
            [node, "server.mjs", str(port), stack.gateway_url + "/.well-known/jwks.json",
             stack.gateway_url, "segment"],
            cwd=HERE, stdout=log, stderr=subprocess.STDOUT,
        ))
        log.close()
        stack.env["SEGMENT_UPSTREAM"] = f"http://127.0.0.1:{port}"

    try:
        with running_stack(str(tmp_path_factory.mktemp("node")),
                           prepare=put_node_behind_the_gateway) as stack:
            wait_until_up(f"http://127.0.0.1:{port}/healthz")
            yield stack, f"http://127.0.0.1:{port}"
    finally:
        for child in children:
            child.terminate()
            child.wait(timeout=10)


def _direct(backend: str, token: str, path: str = "/hello", method: str = "GET") -> dict:
    answer = requests.request(method, backend + path, headers={"X-Identity-Assertion": token},
                              timeout=10)
    body = answer.json()
    assert (answer.status_code == 200) == body["ok"]
    return dict(body)


def _gateway_signed(stack: Stack, **changes: object) -> str:
    """An assertion signed with the running gateway's own key (from the shared key dir)."""
    claims: dict = {
        "issuer": stack.gateway_url, "product": "segment", "console_user_id": "c-node",
        "email": "node@example.com", "product_user_id": "p-node", "session_id": "s-node",
        "auth_methods": ["pwd"], "method": "GET", "path": "/hello",
    }
    key = KeyStore(stack.env["ASSERTION_KEY_DIR"]).signing_key()
    return sign_assertion(key, **(claims | changes))  # type: ignore[arg-type]


def test_node_backend_verifies_real_gateway_assertions(node_stack: tuple[Stack, str]) -> None:
    stack, backend = node_stack
    email = "node@example.com"
    console_id = people.create_console_user(stack, email, PASSWORD)
    people.create_linked_product_user(stack, "segment", email, console_id)
    session = people.sign_in(stack, email, PASSWORD)

    # Valid: the real gateway signs, the Node backend verifies with the live JWKS.
    through = session.get(stack.gateway_url + "/segment/hello", timeout=15)
    assert through.status_code == 200, through.text
    body = through.json()
    assert body["ok"] and body["claims"]["sub"] == console_id
    assert (body["claims"]["htm"], body["claims"]["htp"]) == ("GET", "/hello")
    real = body["token"]

    header, claims, signature = parts(real)
    store = KeyStore(stack.env["ASSERTION_KEY_DIR"])
    refused = {
        "replayed": _direct(backend, real),
        "other-path": _direct(backend, real, path="/other"),
        "expired": _direct(backend, _gateway_signed(stack, now=int(time.time()) - 120)),
        "other-audience": _direct(backend, _gateway_signed(stack, product="sendgrid")),
        "tampered-payload": _direct(
            backend, craft(header, {**claims, "sub": "someone-else"}) + signature),
        "alg-none": _direct(backend, craft({**header, "alg": "none"}, claims)),
        "hs256-with-public-key": _direct(backend, hs256_with_public_key(store, real)),
    }
    assert {case: result["error"] for case, result in refused.items()} == {
        "replayed": "ERR_REPLAYED",
        "other-path": "ERR_OTHER_REQUEST",
        "expired": "ERR_JWT_EXPIRED",
        "other-audience": "ERR_JWT_CLAIM_VALIDATION_FAILED",
        "tampered-payload": "ERR_JWS_SIGNATURE_VERIFICATION_FAILED",
        "alg-none": "ERR_JOSE_ALG_NOT_ALLOWED",
        "hs256-with-public-key": "ERR_JOSE_ALG_NOT_ALLOWED",
    }
    # A fresh assertion the gateway's key signed still passes directly: the refusals above
    # are about each token, not a backend that refuses everything.
    assert _direct(backend, _gateway_signed(stack))["ok"]


def test_jwks_kids_are_rfc7638_thumbprints_by_jose(node_stack: tuple[Stack, str]) -> None:
    _stack, backend = node_stack
    rows = requests.get(backend + "/__thumbprints", timeout=10).json()
    assert rows and all(row["kid"] == row["thumbprint"] for row in rows)
