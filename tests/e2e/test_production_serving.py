"""The documented production commands serve the apps under gunicorn (not the dev server), and the
gateway as deployed (``config/gunicorn_gateway.py``) keeps serving pages while clients stall
their request bodies (CWE-400)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import requests

from config.head_limits import LIMIT_REQUEST_FIELD_SIZE, LIMIT_REQUEST_FIELDS, LIMIT_REQUEST_LINE
from tests.support.raw_http import (
    answer_head,
    drip,
    pages_answered,
    send_raw,
    stall_answers,
    stalled_post,
    status_of,
)
from tests.support.stack import ROOT, Stack, free_port, running_stack, wait_until_up


def test_product_served_by_gunicorn(tmp_path: object) -> None:
    port = free_port()
    env = {**os.environ, "APP_ENV": "test", "SEGMENT_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1",
         "product_stubs.segment:create_app()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until_up(f"http://127.0.0.1:{port}/healthz")
        login = requests.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert login.status_code == 200 and "Segment" in login.text
        assert "gunicorn" in requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).headers[
            "Server"]
    finally:
        server.terminate()
        server.wait(timeout=10)
        assert server.stderr is not None
        server.stderr.close()


# --- stalled request bodies on Console forms ------------------------------------------------

#: As docs/operations.md "Deployment" serves the gateway (2 workers x 16 threads), with a short
#: body deadline so a stall is over within the test.
DEPLOYED = {"WEB_CONCURRENCY": "2", "GATEWAY_THREADS": "16", "REQUEST_BODY_TIMEOUT": "3"}
#: Console forms anyone can post to, signed in or not.
CONSOLE_FORMS = ("/verify-email/resend", "/login", "/signup", "/forgot-password", "/login/2fa")
STALLED = 80
PAGES = 4
#: Seconds a page may take while the gateway is flooded (normally a few ms).
PROMPT = 5.0
#: Seconds between two bytes of a trickling body: each read is well within the deadline.
TRICKLE = 0.5
#: Another client, as the gateway sees the socket peer (Linux routes all of 127/8 to loopback).
OTHER_CLIENT = "127.0.0.2"


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = str(tmp_path_factory.mktemp("deployed"))
    with running_stack(workdir, server="gunicorn", answers=True, **DEPLOYED) as running:
        yield running


@pytest.mark.cwe(400)
def test_stalled_chunked_console_form_gets_408(deployed: Stack) -> None:
    """A chunked body has no length to check against a limit: it gets the same deadline."""
    sock = send_raw(deployed.gateway_url, (
        f"POST /login HTTP/1.1\r\nHost: {deployed.gateway_url[7:]}\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n"
        "7\r\nemail=a\r\n"
    ).encode())
    try:
        assert status_of(answer_head(sock, timeout=10)) == 408
    finally:
        sock.close()


@pytest.mark.cwe(400)
def test_stalled_console_form_bodies_leave_pages_served(deployed: Stack) -> None:
    # Each announces 60000 bytes (under the form-size limit), sends a few, then stops sending.
    stalled = [
        stalled_post(deployed.gateway_url, CONSOLE_FORMS[i % len(CONSOLE_FORMS)], 60000, b"email=a")
        for i in range(STALLED)
    ]
    try:
        time.sleep(0.5)  # every stalled request is in the gateway before the pages are asked for

        answered = pages_answered(deployed.gateway_url + "/login", PAGES, PROMPT)
        assert answered == [200] * PAGES
        # Every stall ends in a clear answer within the deadline: 408, or 503 with Retry-After
        # for the ones over the per-process bound.
        statuses, retry_after = stall_answers(stalled, timeout=10)
        assert 408 in statuses and statuses <= {408, 503}, statuses
        assert retry_after
    finally:
        for sock in stalled:
            sock.close()


def _trickled_answer(deployed: Stack, path: str, length: int) -> tuple[int | None, float]:
    """A body of ``length`` bytes announced and sent one byte every :data:`TRICKLE` seconds:
    the status of the answer, and the seconds it took."""
    sock = stalled_post(deployed.gateway_url, path, length)
    stop = drip([sock], TRICKLE)
    started = time.monotonic()
    try:
        deadline = int(DEPLOYED["REQUEST_BODY_TIMEOUT"])
        return status_of(answer_head(sock, timeout=deadline + 3)), time.monotonic() - started
    finally:
        stop.set()
        sock.close()


@pytest.mark.cwe(400)
def test_body_sent_a_byte_at_a_time_gets_408_at_the_deadline(deployed: Stack) -> None:
    """The deadline is for the whole body, not per read: a client that keeps every read just
    short of it (one byte at a time) is cut off at the deadline all the same."""
    status, took = _trickled_answer(deployed, "/login", 30)  # 30 bytes would take 15 s
    assert status == 408 and took < int(DEPLOYED["REQUEST_BODY_TIMEOUT"]) + 2


@pytest.mark.cwe(400)
def test_streamed_body_below_the_minimum_rate_gets_408(deployed: Stack) -> None:
    """A body too large to buffer (to a product's public page) is streamed, and must keep
    arriving at ``REQUEST_BODY_MIN_RATE``: two bytes a second hold no thread for long."""
    status, took = _trickled_answer(deployed, "/segment/login", 400_000)
    assert status == 408 and took < int(DEPLOYED["REQUEST_BODY_TIMEOUT"]) + 2


@pytest.mark.cwe(400)
def test_one_client_cannot_take_every_body_slot(deployed: Stack) -> None:
    """One client address holds at most ``REQUEST_BODY_PER_CLIENT`` bodies being received per
    process: its trickling connections leave everyone else's form posts answered."""
    hogs = [stalled_post(deployed.gateway_url, "/login", 60000, source=OTHER_CLIENT)
            for _ in range(40)]
    stop = drip(hogs, TRICKLE)
    try:
        time.sleep(0.5)  # every hog is in the gateway before the others post
        statuses = []
        for _ in range(6):
            answer = requests.post(deployed.gateway_url + "/login", data={"email": "a@b.c"},
                                   timeout=PROMPT)
            statuses.append(answer.status_code)
        assert 503 not in statuses, statuses
    finally:
        stop.set()
        for sock in hogs:
            sock.close()


# --- the answer server (forward-auth on uvicorn workers under gunicorn) ---------------------


def _children(pid: int) -> set[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
        return {int(child) for child in f.read().split()}


def test_the_answer_server_replaces_a_killed_worker(deployed: Stack) -> None:
    """As documented (config/gunicorn_answers.py): gunicorn supervises the uvicorn workers, so
    a worker that dies is replaced and the edge keeps getting answers."""
    answers = deployed.url("answers")
    master = deployed.processes["answers"].pid
    workers = _children(master)
    assert len(workers) == 2  # ANSWERS_WORKERS of the stack
    victim = min(workers)
    os.kill(victim, 9)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        now = _children(master)
        if victim not in now and len(now) == 2:
            break
        time.sleep(0.1)
    else:
        raise AssertionError(f"worker {victim} was not replaced: {_children(master)}")
    for _ in range(6):  # both workers answer (connections go to either)
        assert requests.get(answers + "/healthz", timeout=5).status_code == 200
        # Not an edge here (FORWARD_AUTH_ALLOW is empty): refused, but answered.
        refused = requests.get(answers + "/auth/nginx", timeout=5)
        assert refused.status_code == 403 and refused.headers["X-Request-ID"]
    assert requests.get(answers + "/readyz", timeout=5).json()["checks"] == {"database": "ok"}


def _head_status(url: str, line: bytes, fields: list[bytes]) -> int | None:
    host = url.removeprefix("http://").encode()
    head = b"\r\n".join([line, b"Host: " + host, *fields]) + b"\r\n\r\n"
    with send_raw(url, head) as sock:
        return status_of(answer_head(sock, 5))


@pytest.mark.cwe(400)
def test_both_servers_bound_a_head_alike(deployed: Stack) -> None:
    """The Console's gunicorn and the answer server's workers (config/head_limits.py): a
    request line, a field or a count of fields at the bound answered, one over refused."""
    start = b"GET /healthz?pad="
    line = start + b"a" * (LIMIT_REQUEST_LINE - len(start + b" HTTP/1.1")) + b" HTTP/1.1"
    field = b"X-Pad: " + b"a" * (LIMIT_REQUEST_FIELD_SIZE - len(b"X-Pad: \r\n"))
    fields = [b"X-Pad-%d: a" % number for number in range(LIMIT_REQUEST_FIELDS - 1)]
    questions = {  # name: (line, fields) at the bound, and one over it
        "request line": ((line, []), (line.replace(b"?pad=", b"?pad=a"), [])),
        "field": ((b"GET /healthz HTTP/1.1", [field]), (b"GET /healthz HTTP/1.1", [field + b"a"])),
        "fields": ((b"GET /healthz HTTP/1.1", fields),
                   (b"GET /healthz HTTP/1.1", [*fields, b"X-Pad-last: a"])),
    }
    expected = {"request line": (200, 414), "field": (200, 431), "fields": (200, 431)}
    for server in ("gateway", "answers"):
        url = deployed.url(server)
        answered = {name: tuple(_head_status(url, *question) for question in pair)
                    for name, pair in questions.items()}
        assert answered == expected, server
