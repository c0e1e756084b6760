"""The answer server (``gateway/proxy/asgi.py``: forward-auth on uvicorn) answers exactly as the
WSGI app does, over real HTTP on loopback, with the security properties of the Console's
server: raw header bytes, the socket's peer, no process environment, bodies never waited for,
the session read off the event loop, counted answers, page headers and request ids, and the
same bounds on a request's head, enforced before the app.

Both servers run in this process over one app (one database); each question is sent as raw
bytes to both and the answers compared. Worker supervision under gunicorn:
tests/e2e/test_production_serving.py. Through real nginx and Caddy: tests/edge.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import pytest
from flask import Flask
from prometheus_client import REGISTRY

from config.answer_worker import serve_in_thread
from config.head_limits import (
    LIMIT_REQUEST_FIELD_SIZE,
    LIMIT_REQUEST_FIELDS,
    LIMIT_REQUEST_HEAD,
    LIMIT_REQUEST_LINE,
)
from gateway.app import answer_server
from gateway.proxy import principal
from gateway.proxy.asgi import environ_of
from tests.support.apps import dispose
from tests.support.console import make_gateway_app
from tests.support.proxy_gateway import (
    SignedIn,
    Upstream,
    gateway_settings,
    sign_in,
    verified,
)
from tests.support.raw_http import answer_head, read_head, send_raw, status_of
from tests.support.served import start_wsgi, stop
from tests.support.stack import free_port

#: Headers whose values differ on every answer (a fresh id, time or signature) or name the
#: server: compared by presence only.
FRESH = {"x-request-id", "x-identity-assertion", "x-forwarded-signature", "date", "server",
         "connection", "content-length", "set-cookie"}


@dataclass
class Servers:
    app: Flask
    wsgi: int
    asgi: int
    cookie: str


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool = False


def ask(port: int, target: bytes, headers: list[tuple[bytes, bytes]], method: bytes = b"GET",
        body: bytes = b"", source: str = "127.0.0.1", timeout: float = 5,
        check_closed: bool = False) -> Answer:
    """Send exactly these bytes, read one answer (``check_closed``: whether the server closed
    the connection after it, waiting a second for that)."""
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: edge.test"]
    lines += [name + b": " + value for name, value in headers]
    with socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                  source_address=(source, 0)) as sock:
        sock.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        head, _, rest = read_head(sock).partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = dict(line.split(":", 1) for line in header_lines if ":" in line)
        answer = {name.strip().lower(): value.strip() for name, value in fields.items()}
        length = int(answer.get("content-length", "0"))
        while len(rest) < length:
            rest += sock.recv(65536)
        closed = False
        if check_closed:
            sock.settimeout(1)
            try:
                closed = sock.recv(1) == b""
            except TimeoutError:
                pass
    return Answer(int(status_line.split()[1]), answer, rest[:length], closed)


def _nginx(url: bytes, cookie: str = "", method: bytes = b"GET",
           **extra: bytes) -> list[tuple[bytes, bytes]]:
    headers = [(b"X-Original-Method", method), (b"X-Original-URL", url),
               (b"X-Forwarded-For", b"127.0.0.1"), (b"Accept", b"text/html")]
    if cookie:
        headers.append((b"Cookie", cookie.encode("latin-1")))
    return headers + [(name.replace("_", "-").encode(), value) for name, value in extra.items()]


@pytest.fixture
def servers(database_url: str, upstreams: dict[str, Upstream], tmp_path: Any) -> Iterator[Servers]:
    app = make_gateway_app(database_url, **gateway_settings(
        upstreams, tmp_path, FORWARD_AUTH_ALLOW=["127.0.0.1/32"], TRUSTED_PROXY_HOPS=1,
        PUBLIC_URL="http://edge.test", SESSION_CACHE_SECONDS=2))  # 2: as deployed
    person = sign_in(app, app.test_client())
    cookie = f"gw_session={_cookie(person)}; theme=dark"
    wsgi = start_wsgi(app)
    asgi_port = free_port()
    asgi = serve_in_thread(answer_server(app), "127.0.0.1", asgi_port)
    try:
        yield Servers(app, wsgi.server_port, asgi_port, cookie)
    finally:
        asgi.should_exit = True
        stop(wsgi)
        dispose(app)


def _cookie(person: SignedIn) -> str:
    value = person.client.get_cookie("gw_session")
    assert value is not None
    return value.value


def _comparable(answer: Answer) -> tuple[int, dict[str, str], bytes]:
    headers = {k: v for k, v in answer.headers.items() if k not in FRESH}
    present = {k for k in answer.headers if k in FRESH - {"date", "server", "connection"}}
    body = answer.body if answer.status != 200 else b""
    return answer.status, headers | {k: "(present)" for k in present}, _without_ids(body)


def _without_ids(body: bytes) -> bytes:
    """Error pages name their request id and carry a fresh CSRF token: compared without."""
    return b"\n".join(line for line in body.split(b"\n")
                      if b"request" not in line.lower() and b"csrf_token" not in line)




def _questions(cookie: str) -> dict[str, tuple[bytes, bytes, list[tuple[bytes, bytes]]]]:
    forward = [(b"X-Forwarded-Method", b"GET"), (b"X-Forwarded-Proto", b"https"),
               (b"X-Forwarded-Host", b"edge.test"), (b"Cookie", cookie.encode())]
    return {
        "allowed": (b"GET", b"/auth/nginx", _nginx(b"http://edge.test/segment/x", cookie)),
        "allowed, UTF-8 path in a header": (
            b"GET", b"/auth/nginx", _nginx("http://edge.test/segment/café".encode(), cookie)),
        "latin-1 byte in the path header": (
            b"GET", b"/auth/nginx", _nginx(b"http://edge.test/segment/caf\xe9", cookie)),
        "signed out, browser": (b"GET", b"/auth/nginx", _nginx(b"http://edge.test/segment/x")),
        "internal path": (b"GET", b"/auth/nginx",
                          _nginx(b"http://edge.test/segment/scim/v2/Users", cookie)),
        "method not a token": (b"GET", b"/auth/nginx",
                               _nginx(b"http://edge.test/segment/x", cookie, b"G E T")),
        "wrong method for nginx": (b"POST", b"/auth/nginx",
                                   _nginx(b"http://edge.test/segment/x", cookie)),
        "bad host": (b"GET", b"/auth/nginx", _nginx(b"http://edge.test/segment/x", cookie)
                     + [(b"X-Forwarded-Host", b"a" * 70 + b".test")]),
        "caddy allowed": (b"GET", b"/auth/forward",
                          forward + [(b"X-Forwarded-Uri", "/segment/é?q=1".encode())]),
        "caddy no uri": (b"GET", b"/auth/forward", forward),
        "caddy encoded slash trick": (b"GET", b"/auth/forward",
                                      forward + [(b"X-Forwarded-Uri", b"/segment/..%2f..%2fx")]),
        "envoy allowed": (b"GET", b"/auth/envoy/segment/x?y=1",
                          [(b"Cookie", cookie.encode())]),
        "envoy percent-encoded UTF-8": (b"GET", b"/auth/envoy/segment/caf%C3%A9",
                                        [(b"Cookie", cookie.encode())]),
        "underscored header not read": (b"GET", b"/auth/nginx",
                                        [(b"X_Original_URL", b"http://edge.test/segment/x"),
                                         (b"X-Original-Method", b"GET"),
                                         (b"Cookie", cookie.encode())]),
    }


@pytest.mark.parametrize("name", list(_questions("gw_session=x")))
def test_both_servers_give_the_same_answer(servers: Servers, name: str) -> None:
    method, target, headers = _questions(servers.cookie)[name]
    by_wsgi = ask(servers.wsgi, target, headers, method)
    by_asgi = ask(servers.asgi, target, headers, method)
    assert _comparable(by_asgi) == _comparable(by_wsgi), name
    assert by_asgi.headers["x-request-id"]


def test_an_allowed_answer_signs_the_path_it_names(servers: Servers) -> None:
    answer = ask(servers.asgi, b"/auth/nginx",
                 _nginx("http://edge.test/SEGMENT//a/./café".encode(), servers.cookie, b"POST"))
    assert answer.status == 200
    assert answer.headers["x-gateway-path"] == "/a/caf%C3%A9"
    # The unescaped path as UTF-8 bytes on the wire, as under WSGI (latin-1 text there).
    assert answer.headers["x-gateway-path-unescaped"].encode("latin-1").decode() == "/a/café"
    identity = verified("segment", answer.headers["x-identity-assertion"], "POST", "/a/café")
    assert identity.email == "pat@example.com"
    assert answer.headers["x-gateway-cookie"] == "theme=dark"  # never gw_session


def test_non_ascii_bytes_in_the_request_line_are_a_400_never_decided(servers: Servers) -> None:
    # RFC 9112 allows only ASCII in the request line; httptools refuses such a line before the
    # app sees it (Envoy's convention reads the path from it). Under gunicorn the same bytes
    # are read as UTF-8 and decided: never one decision on one server and another on the other.
    for target in ("/auth/envoy/segment/café".encode(), b"/auth/envoy/segment/caf\xe9"):
        answer = ask(servers.asgi, target, [(b"Cookie", servers.cookie.encode())])
        assert answer.status == 400 and "x-identity-assertion" not in answer.headers


def test_the_caller_is_the_socket_peer_never_x_forwarded_for(
    database_url: str, upstreams: dict[str, Upstream], tmp_path: Any
) -> None:
    app = make_gateway_app(database_url, **gateway_settings(
        upstreams, tmp_path, FORWARD_AUTH_ALLOW=["127.0.0.2/32"], TRUSTED_PROXY_HOPS=1,
        PUBLIC_URL="http://edge.test"))
    port = free_port()
    server = serve_in_thread(answer_server(app), "127.0.0.1", port)
    try:
        person = sign_in(app, app.test_client())
        cookie = f"gw_session={_cookie(person)}"
        question = _nginx(b"http://edge.test/segment/x", cookie)
        spoofed = question + [(b"X-Forwarded-For", b"127.0.0.2")]
        refused = ask(port, b"/auth/nginx", spoofed, source="127.0.0.1")
        assert refused.status == 403 and "x-identity-assertion" not in refused.headers
        allowed = ask(port, b"/auth/nginx", question, source="127.0.0.2")
        assert allowed.status == 200
        # The client address the product is told is the edge's X-Forwarded-For (trusted hop).
        assert allowed.headers["x-gateway-forwarded-for"] == "127.0.0.1"
    finally:
        server.should_exit = True
        dispose(app)


def test_no_process_environment_in_the_request() -> None:
    os.environ["ANSWER_SERVER_PROBE"] = "secret"
    try:
        environ = environ_of({
            "type": "http", "method": "GET", "path": "/auth/nginx", "raw_path": b"/auth/nginx",
            "query_string": b"", "headers": [(b"x-original-url", b"/caf\xc3\xa9")],
            "client": ("127.0.0.1", 4000), "server": ("127.0.0.1", 5010), "scheme": "http",
        })
    finally:
        del os.environ["ANSWER_SERVER_PROBE"]
    assert "ANSWER_SERVER_PROBE" not in environ and "SECRET_KEY" not in environ
    assert not {"PATH", "HOME"} & set(environ)
    assert environ["HTTP_X_ORIGINAL_URL"] == "/caf\xc3\xa9"  # the bytes, as latin-1 text


def test_a_declared_body_is_never_waited_for(servers: Servers) -> None:
    # 10 bytes of 100 announced, then nothing: the answer comes at once, and the connection
    # closes after it (the rest is never read as a next request).
    started = time.monotonic()
    answer = ask(servers.asgi, b"/auth/nginx",
                 _nginx(b"http://edge.test/segment/x", servers.cookie)
                 + [(b"Content-Length", b"100")], body=b"0123456789", check_closed=True)
    assert time.monotonic() - started < 2
    assert answer.status == 200 and answer.closed
    assert answer.headers["connection"] == "close"
    chunked = ask(servers.asgi, b"/auth/envoy/segment/x", [
        (b"Cookie", servers.cookie.encode()), (b"Transfer-Encoding", b"chunked")],
        method=b"POST", body=b"5\r\nhel", check_closed=True)
    assert chunked.status == 200 and chunked.closed


def test_a_session_read_never_blocks_the_event_loop(
    servers: Servers, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first check of a session reads the database (in a thread); answers that need no
    # database go on meanwhile. Here the read takes a second.
    real = principal.load_principal

    def slow(*args: Any) -> Any:
        time.sleep(1.0)
        return real(*args)

    monkeypatch.setattr(principal, "load_principal", slow)
    waiting: dict[str, Answer] = {}
    slow_ask = threading.Thread(target=lambda: waiting.setdefault("answer", ask(
        servers.asgi, b"/auth/nginx", _nginx(b"http://edge.test/segment/x", servers.cookie))))
    slow_ask.start()
    time.sleep(0.2)
    started = time.monotonic()
    signed_out = ask(servers.asgi, b"/auth/nginx", _nginx(b"http://edge.test/segment/y"))
    health = ask(servers.asgi, b"/healthz", [])
    assert time.monotonic() - started < 0.5
    assert signed_out.status == 401 and health.status == 200
    slow_ask.join(5)
    assert waiting["answer"].status == 200
    # Now remembered: answered inline, without the database.
    started = time.monotonic()
    assert ask(servers.asgi, b"/auth/nginx",
               _nginx(b"http://edge.test/segment/z", servers.cookie)).status == 200
    assert time.monotonic() - started < 0.5


def test_answers_are_counted_and_refusals_logged(
    servers: Servers, caplog: pytest.LogCaptureFixture
) -> None:
    def count(status: int) -> float:
        return REGISTRY.get_sample_value("gateway_requests_total", {
            "method": "GET", "area": "forward_auth", "status": str(status)}) or 0.0

    allowed, refused = count(200), count(401)
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        assert ask(servers.asgi, b"/auth/nginx",
                   _nginx(b"http://edge.test/segment/x", servers.cookie)).status == 200
        assert ask(servers.asgi, b"/auth/nginx",
                   _nginx(b"http://edge.test/segment/x")).status == 401
    assert (count(200), count(401)) == (allowed + 1, refused + 1)
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.access"]
    assert [(line["status"], line["path"]) for line in lines] == [(401, "/auth/nginx")]


def test_page_headers_and_request_ids_as_today(servers: Servers) -> None:
    refused = ask(servers.asgi, b"/auth/nginx",
                  _nginx(b"http://edge.test/segment/x") + [(b"X-Request-ID", b"edge-req-42")])
    assert refused.status == 401
    assert refused.headers["x-request-id"] == "edge-req-42"
    for name in ("content-security-policy", "x-frame-options", "x-content-type-options"):
        assert name in refused.headers
    assert "server" not in refused.headers  # no software named
    page = ask(servers.asgi, b"/auth/nginx", _nginx(b"http://edge.test/segment/x"),
               method=b"DELETE")
    assert page.status == 405 and "content-security-policy" in page.headers
    assert b"Traceback" not in page.body
    other = ask(servers.asgi, b"/login", [])
    assert other.status == 404  # the Console is the other server's


def test_readiness_of_the_answer_server(servers: Servers) -> None:
    ready = ask(servers.asgi, b"/readyz", [])
    assert ready.status == 200
    assert json.loads(ready.body) == {"status": "ready", "checks": {"database": "ok"}}


def _answered() -> float:
    """Every answer the app has counted in this process."""
    return sum(sample.value for metric in REGISTRY.collect() for sample in metric.samples
               if sample.name == "gateway_requests_total")


def _refused_by_the_server(answer: Answer, status: int) -> bool:
    """A plain refusal written by the server itself: none of the app's headers (every answer
    of the app names its request id), the connection closed after it."""
    return (answer.status == status and "x-request-id" not in answer.headers
            and answer.headers["connection"] == "close" and answer.closed
            and answer.body == HTTPStatus(status).phrase.encode())


@pytest.mark.cwe(400)
def test_a_request_line_over_the_consoles_bound_is_refused_414_before_the_app(
    servers: Servers,
) -> None:
    question = _nginx(b"http://edge.test/segment/x", servers.cookie)
    target = b"/auth/nginx?pad="
    at_bound = target + b"a" * (LIMIT_REQUEST_LINE - len(b"GET " + target + b" HTTP/1.1"))
    counted = _answered()
    refused = ask(servers.asgi, at_bound + b"a", question, check_closed=True)
    assert _refused_by_the_server(refused, 414)
    assert _answered() == counted
    answered = ask(servers.asgi, at_bound, question)
    assert answered.status == 200 and "x-identity-assertion" in answered.headers


@pytest.mark.cwe(400)
def test_a_header_field_over_the_consoles_bound_is_refused_431_before_the_app(
    servers: Servers,
) -> None:
    question = _nginx(b"http://edge.test/segment/x", servers.cookie)
    at_bound = (b"X-Pad", b"a" * (LIMIT_REQUEST_FIELD_SIZE - len(b"X-Pad: \r\n")))
    counted = _answered()
    refused = ask(servers.asgi, b"/auth/nginx", question + [(at_bound[0], at_bound[1] + b"a")],
                  check_closed=True)
    assert _refused_by_the_server(refused, 431)
    assert _answered() == counted
    answered = ask(servers.asgi, b"/auth/nginx", question + [at_bound])
    assert answered.status == 200 and "x-identity-assertion" in answered.headers


@pytest.mark.cwe(400)
def test_more_header_fields_than_the_consoles_bound_are_refused_431_before_the_app(
    servers: Servers,
) -> None:
    question = _nginx(b"http://edge.test/segment/x", servers.cookie)
    room = LIMIT_REQUEST_FIELDS - 1 - len(question)  # Host is sent too
    padding = [(b"X-Pad-%d" % number, b"a") for number in range(room + 1)]
    counted = _answered()
    refused = ask(servers.asgi, b"/auth/nginx", question + padding, check_closed=True)
    assert _refused_by_the_server(refused, 431)
    assert _answered() == counted
    answered = ask(servers.asgi, b"/auth/nginx", question + padding[:room])
    assert answered.status == 200 and "x-identity-assertion" in answered.headers


@pytest.mark.cwe(400)
def test_a_head_that_never_ends_is_refused_431_at_the_longest_the_bounds_allow(
    servers: Servers,
) -> None:
    # One header field that never ends: no field is ever complete to be measured, yet the
    # server holds no more than the longest head the bounds allow.
    start = b"GET /auth/nginx HTTP/1.1\r\nHost: edge.test\r\nX-Pad: "
    sock = send_raw(f"http://127.0.0.1:{servers.asgi}",
                    start + b"a" * (LIMIT_REQUEST_HEAD - len(start)))
    with sock:
        assert answer_head(sock, 0.3) == b""  # at the bound: waiting for the rest
        sock.sendall(b"a")
        head = answer_head(sock, 5)
    assert status_of(head) == 431 and b"x-request-id" not in head


def test_each_request_on_a_connection_gets_the_whole_of_each_bound(servers: Servers) -> None:
    # Two of the largest heads the bounds allow on one connection (nearly two bounds' worth
    # of bytes): both answered, the second measured on its own.
    question = _nginx(b"http://edge.test/segment/x", servers.cookie)
    padding = [(b"X-Pad-%02d" % number, b"a" * (LIMIT_REQUEST_FIELD_SIZE - len(b"X-Pad-00: \r\n")))
               for number in range(LIMIT_REQUEST_FIELDS - 1 - len(question))]
    lines = [b"GET /auth/nginx HTTP/1.1", b"Host: edge.test"]
    lines += [name + b": " + value for name, value in question + padding]
    request = b"\r\n".join(lines) + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", servers.asgi), timeout=5) as sock:
        for _ in range(2):
            sock.sendall(request)
            head, _, rest = read_head(sock).partition(b"\r\n\r\n")
            assert status_of(head.lower()) == 200
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            while len(rest) < length:
                rest += sock.recv(65536)
