"""Benchmark: the forward-auth answer in process, with no server: CPU per answer and its floors.

    .venv/bin/python bench/answer.py [--rounds 3000] [--profile]

Builds the real ``gateway.create_app()`` (its whole WSGI stack: bodies, trusted hops, the proxy
app) on a fresh SQLite database with one signed-in user linked to Segment, then calls it with
what nginx's ``auth_request`` sends to ``/auth/nginx`` (the answer must be a 200 with an
assertion), and the answer server's ASGI app (``gateway.app.answer_server``, what uvicorn
calls) with the same request as an ASGI scope. Prints the CPU per answer (best of three
rounds), the floors of its one signature
(P-256 through ``cryptography`` alone, and PyJWT's ``jwt.encode`` of the same claims), and with
``--profile`` where the time goes (cProfile, sorted by own and by cumulative time). The load
average is printed beside: the machine is shared.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import logging
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import jwt  # noqa: E402
from cryptography.hazmat.primitives import hashes  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402

from bench.proxy import SECRET, prepare_database  # noqa: E402

PUBLIC = "http://127.0.0.1:8080"


def nginx_environ(cookie: str) -> dict[str, Any]:
    """What ``config/edge/nginx.conf`` sends to ``/auth/nginx`` for ``GET /segment/bench/page``."""
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/auth/nginx", "QUERY_STRING": "",
        "RAW_URI": "/auth/nginx", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "HTTP_HOST": "127.0.0.1:8080", "HTTP_X_ORIGINAL_METHOD": "GET",
        "HTTP_X_ORIGINAL_URL": PUBLIC + "/segment/bench/page",
        "HTTP_X_FORWARDED_FOR": "127.0.0.1", "HTTP_X_FORWARDED_PROTO": "http",
        "HTTP_X_FORWARDED_HOST": "127.0.0.1:8080", "HTTP_COOKIE": cookie,
    }


def nginx_scope(cookie: str) -> dict[str, Any]:
    """The same request as uvicorn hands it to an ASGI app."""
    environ = nginx_environ(cookie)
    headers = [(key[5:].lower().replace("_", "-").encode(), value.encode("latin-1"))
               for key, value in environ.items() if key.startswith("HTTP_")]
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "GET", "scheme": "http", "path": "/auth/nginx",
            "raw_path": b"/auth/nginx", "query_string": b"", "root_path": "",
            "headers": headers, "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 5010)}


def asgi_per_call_us(app: Any, scope: dict[str, Any], rounds: int) -> float:
    """:func:`per_call_us` for an ASGI app, every call in one event loop (as a worker's)."""
    sent: list[Any] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    async def calls(count: int) -> None:
        for _ in range(count):
            await app(dict(scope), receive, send)
            sent.clear()

    async def best() -> float:
        await app(dict(scope), receive, send)
        start = sent[0]
        if start["status"] != 200 or b"x-identity-assertion" not in dict(start["headers"]):
            raise SystemExit(f"ASGI: not an allowed answer with an assertion: {start}")
        await calls(500)
        result = float("inf")
        for _ in range(3):
            started = time.process_time()
            await calls(rounds)
            result = min(result, (time.process_time() - started) / rounds * 1e6)
        return result

    return asyncio.run(best())


def per_call_us(call: Callable[[], object], rounds: int) -> float:
    """Best of three rounds of ``rounds`` calls: CPU microseconds per call."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        for _ in range(rounds):
            call()
        best = min(best, (time.process_time() - started) / rounds * 1e6)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3000)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="bench-answer-")
    database = f"sqlite:///{workdir}/gateway.db"
    cookie = prepare_database(database, os.path.join(workdir, "keys"))
    from config import edge as edge_config
    from gateway import create_app
    from gateway.app import answer_server
    from gateway.keys import key_store

    os.environ.update(edge_config.GATEWAY_ENV)
    app = create_app({"APP_ENV": "development", "DATABASE_URL": database, "SECRET_KEY": SECRET,
                      "ASSERTION_KEY_DIR": os.path.join(workdir, "keys"), "PUBLIC_URL": PUBLIC})
    logging.getLogger("gateway").setLevel(logging.WARNING)
    answered: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        answered.append((status, headers))

    def answer() -> None:
        body = app.wsgi_app(nginx_environ(cookie), start_response)
        for _ in body:
            pass
        getattr(body, "close", lambda: None)()

    answer()
    status, headers = answered[-1]
    if not status.startswith("200") or "X-Identity-Assertion" not in dict(headers):
        raise SystemExit(f"not an allowed answer with an assertion: {status} {headers}")
    for _ in range(500):
        answer()
    key = key_store(app).signing_key()
    claims = jwt.decode(dict(headers)["X-Identity-Assertion"], options={"verify_signature": False})
    print(f"load average {os.getloadavg()[0]:.2f}; µs of CPU per call, best of 3 x {args.rounds}")
    def sign_alone() -> bytes:
        return key.private_key.sign(b"x" * 700, ec.ECDSA(hashes.SHA256()))  # type: ignore[union-attr]

    def encode_alone() -> str:
        return jwt.encode(claims, key.private_key, algorithm="ES256",
                          headers={"kid": key.kid, "typ": "x"})

    asgi_us = asgi_per_call_us(answer_server(app), nginx_scope(cookie), args.rounds)
    print(f"  {'the same, answer server (ASGI app, no server)':44}{asgi_us:8.1f}")
    for name, call in (("forward-auth answer (/auth/nginx, allowed)", answer),
                       ("floor: P-256 sign alone (cryptography)", sign_alone),
                       ("floor: jwt.encode of its claims (PyJWT)", encode_alone)):
        print(f"  {name:44}{per_call_us(call, args.rounds):8.1f}")
    if args.profile:
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.rounds):
            answer()
        profile.disable()
        for order in ("tottime", "cumulative"):
            out = io.StringIO()
            pstats.Stats(profile, stream=out).sort_stats(order).print_stats(30)
            print(out.getvalue())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
