"""Hostile framing, against real servers (werkzeug and gunicorn) where the server's own HTTP
parser matters: connections that announce a body and never send it leave normal traffic served
and get 408 or 503, never a 500; bad chunk sizes, chunk extensions and methods are client
errors, never a 500 and never counted as an upstream error (issue 10's attack run).
"""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests

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


@pytest.mark.cwe(400)
def test_stalled_body_gets_408(stack: Stack) -> None:
    sock = _stalled_post(stack)
    try:
        assert _status(sock, timeout=15) == 408
    finally:
        sock.close()


@pytest.mark.cwe(400)
def test_stalled_bodies_leave_normal_traffic_served(stack: Stack) -> None:
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


@pytest.mark.cwe(400)
def test_stalled_large_body_gets_408(stack: Stack) -> None:
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


@pytest.mark.cwe(444)
@pytest.mark.parametrize("body", FRAMING)
def test_chunk_framing_errors_are_client_errors(stack: Stack, body: bytes) -> None:
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


@pytest.mark.cwe(20)
@pytest.mark.parametrize(
    "method", [b"G\x01ET", b"GE T", b"G(ET", b"G\x7fET"], ids=lambda m: f"CWE-20-method-{m!r}"
)
def test_malformed_method_is_400(stack: Stack, method: bytes) -> None:
    before = _upstream_errors(stack)
    host = _host(stack)
    sock = _send(stack, method + f" /sendgrid/login HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    try:
        status = _status(sock, timeout=15)
    finally:
        sock.close()
    assert status == 400
    assert _upstream_errors(stack) == before
