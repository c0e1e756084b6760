"""The attack run on the proxy (issue 10, findings 2, 6, 11 and 12), against real servers where
the server's own HTTP parser matters:

- CWE-400 (uncontrolled resource consumption): connections that announce a body and never send
  it leave normal traffic served; the stalled ones get 408 or 503, never a 500.
- CWE-1021 (restriction of rendered UI layers) and CWE-525 (cached sensitive pages): proxied
  product pages cannot be framed and are not cached unless the product says otherwise.
- CWE-444 / CWE-20 (framing errors): bad chunk sizes, chunk extensions and methods are client
  errors, never a 500 and never counted as an upstream error.
- CWE-41 (path equivalence): ``..;`` and segments that normalise to nothing are refused.
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from flask import Flask

from tests.support.proxy_gateway import SignedIn, echoed, sign_in
from tests.support.raw_http import (
    answer_head,
    pages_answered,
    send_raw,
    stall_answers,
    stalled_post,
    status_of,
)
from tests.support.stack import Stack, running_stack

#: Small limits so a stall is over in a second and the bound on slow bodies is easy to reach.
SETTINGS = {"REQUEST_BODY_TIMEOUT": "1", "REQUEST_BODY_CONCURRENCY": "2"}
STALLED = 80
NORMAL = 8
#: Seconds a normal request may take while the gateway is flooded (normally a few ms).
PROMPT = 5.0


@pytest.fixture(scope="module", params=["werkzeug", "gunicorn"])
def stack(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    workdir = str(tmp_path_factory.mktemp(f"attack-{request.param}"))
    with running_stack(workdir, server=request.param, **SETTINGS) as running:
        yield running


def _host(stack: Stack) -> str:
    return urlsplit(stack.gateway_url).netloc


def _send(stack: Stack, raw: bytes) -> socket.socket:
    return send_raw(stack.gateway_url, raw)


def _status(sock: socket.socket, timeout: float) -> int | None:
    """The status code of the answer on ``sock``, or None if it closed (or stayed) silent."""
    return status_of(answer_head(sock, timeout))


def _stalled_post(stack: Stack) -> socket.socket:
    return stalled_post(stack.gateway_url, "/sendgrid/login", 100000)


def _upstream_errors(stack: Stack) -> float:
    metrics = requests.get(stack.gateway_url + "/metrics", timeout=5).text
    pattern = r"^gateway_upstream_errors_total\{[^}]*\} ([0-9.e+]+)$"
    return sum(float(v) for v in re.findall(pattern, metrics, re.MULTILINE))


def test_cwe_400_stalled_body_gets_408(stack: Stack) -> None:
    sock = _stalled_post(stack)
    try:
        assert _status(sock, timeout=15) == 408
    finally:
        sock.close()


def test_cwe_400_stalled_bodies_leave_normal_traffic_served(stack: Stack) -> None:
    stalled = [_stalled_post(stack) for _ in range(STALLED)]
    try:
        time.sleep(0.2)  # every stalled request is in the gateway before the normal ones

        answered = pages_answered(stack.gateway_url + "/sendgrid/login", NORMAL, PROMPT)
        assert answered == [200] * NORMAL
        statuses, retry_after = stall_answers(stalled, timeout=15)
        assert statuses <= {408, 503}, statuses
        assert retry_after
    finally:
        for sock in stalled:
            sock.close()


def test_cwe_400_stalled_large_body_gets_408(stack: Stack) -> None:
    """A body too large to buffer is streamed; a stall in it is still the client's 408."""
    size = 10 * 1024 * 1024
    before = _upstream_errors(stack)
    sock = _send(stack, (
        f"POST /sendgrid/login HTTP/1.1\r\nHost: {_host(stack)}\r\n"
        f"Content-Type: application/octet-stream\r\nContent-Length: {size}\r\n\r\n"
    ).encode() + bytes(300 * 1024))
    try:
        assert _status(sock, timeout=15) == 408
    finally:
        sock.close()
    assert _upstream_errors(stack) == before


#: One chunk larger than the gateway buffers, so the bad chunk comes while streaming.
_LARGE_CHUNK = b"%x\r\n" % (300 * 1024) + bytes(300 * 1024) + b"\r\n"

FRAMING = [
    pytest.param(b"0x5\r\nhello\r\n0\r\n\r\n", id="CWE-444-chunk-size-0x"),
    pytest.param(b"-5\r\nhello\r\n0\r\n\r\n", id="CWE-444-chunk-size-negative"),
    pytest.param(b"5;ext=1\r\nhello\r\n0\r\n\r\n", id="CWE-444-chunk-extension"),
    pytest.param(b"zz\r\nhello\r\n0\r\n\r\n", id="CWE-444-chunk-size-not-hex"),
    pytest.param(b"5\r\nhello", id="CWE-444-chunked-cut-short"),
    pytest.param(_LARGE_CHUNK + b"zz\r\n", id="CWE-444-bad-chunk-while-streaming"),
]


@pytest.mark.parametrize("body", FRAMING)
def test_cwe_444_chunk_framing_errors_are_client_errors(stack: Stack, body: bytes) -> None:
    before = _upstream_errors(stack)
    host = _host(stack)
    sock = _send(stack, (
        f"POST /sendgrid/login HTTP/1.1\r\nHost: {host}\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n\r\n"
    ).encode() + body)
    try:
        status = _status(sock, timeout=15)
    finally:
        sock.close()
    assert status is not None and 400 <= status < 500, status
    assert _upstream_errors(stack) == before


@pytest.mark.parametrize(
    "method", [b"G\x01ET", b"GE T", b"G(ET", b"G\x7fET"], ids=lambda m: f"CWE-20-method-{m!r}"
)
def test_cwe_20_malformed_method_is_400(stack: Stack, method: bytes) -> None:
    before = _upstream_errors(stack)
    host = _host(stack)
    sock = _send(stack, method + f" /sendgrid/login HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    try:
        status = _status(sock, timeout=15)
    finally:
        sock.close()
    assert status == 400
    assert _upstream_errors(stack) == before


# --- proxied responses: framing and caching (Flask test client, echo product) ----------------


def test_cwe_1021_proxied_pages_cannot_be_framed_or_cached(signed_in: SignedIn) -> None:
    for response in (signed_in.client.get("/segment/x"),
                     signed_in.client.get("/segment/login")):
        echoed(response)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


def test_cwe_1021_product_headers_are_kept(signed_in: SignedIn) -> None:
    response = signed_in.client.get("/segment/own-headers")
    assert response.status_code == 200
    assert response.headers.getlist("Content-Security-Policy") == [
        "default-src 'self'; frame-ancestors 'self'"]
    assert response.headers.getlist("Cache-Control") == ["public, max-age=60"]
    assert response.headers["X-Frame-Options"] == "DENY"  # added: the product set none


# --- paths: matrix parameters and segments that normalise to nothing --------------------------


REFUSED_PATHS = [
    pytest.param(path, id=case_id)
    for case_id, path in [
        ("CWE-41-dot-dot-semicolon-public", "/sendgrid/static/..;/settings"),
        ("CWE-41-dot-dot-semicolon-internal", "/sendgrid/x/..;/scim/v2/Users"),
        ("CWE-41-encoded-semicolon", "/sendgrid/static/..%3b/settings"),
        ("CWE-41-matrix-param", "/segment/login;jsessionid=1"),
        ("CWE-41-fullwidth-semicolon", "/segment/static/..\uff1b/settings"),
        ("CWE-41-fullwidth-dots", "/segment/static/\uff0e\uff0e/settings"),
        ("CWE-41-triple-dot", "/segment/static/.../settings"),
        ("CWE-41-space-segment", "/segment/static/%20/settings"),
        ("CWE-41-dots-and-space", "/segment/static/.. /settings"),
    ]
]


@pytest.mark.parametrize("path", REFUSED_PATHS)
def test_cwe_41_matrix_and_empty_segments_are_refused(gateway: Flask, path: str) -> None:
    person = sign_in(gateway, gateway.test_client())
    for client in (gateway.test_client(), person.client):
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 400, (path, response.status_code)
        assert response.headers.get("X-Upstream") is None
