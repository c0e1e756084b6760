"""Benchmark: where a built-in proxied request's time goes, in process (issue 23, item 4).

    .venv/bin/python bench/builtin_proxy.py [--rounds 2000] [--profile] [--extra-path DIR]

Starts the plain product page of ``bench/edge.py`` under gunicorn (1 gthread worker) on a
loopback port, builds the real ``gateway.create_app()`` on a fresh SQLite database with one
signed-in user linked to Segment (upstream: that product), then calls its whole WSGI stack
with ``GET /segment/bench/page`` as gunicorn would hand it over (the body read to the end: a
200 from the product). Prints the CPU (this process only: the product is another) and the
wall time per request, best of three rounds, and beside it the parts, each alone in the same
process:

- the decision (``decide``, the session from the per-process cache);
- the assertion (``Signer.assertion``, one ES256 signature);
- the header rewriting (``upstream_request_headers``, ``forwarded_headers``,
  ``downstream_response_headers``);
- the upstream round trip through the product's urllib3 pool (what ``forward`` calls), and the
  same round trip through aiohttp and httpx2 on an event loop (uvloop), each pooled;
- with aiohttp, the async floors of ``bench/proxy_floors.py`` as ASGI apps (no server), and the
  assertion's CPU measured inside the one with the gateway's work (not in a tight loop of its
  own, where warm caches halve it).

With ``--profile``, cProfile of the whole stack in CPU time (sorted by own and by cumulative
time). The load average is printed beside: the machine is shared. aiohttp is not a dependency:
``--extra-path`` names a folder holding it (``pip install --target DIR aiohttp``).
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import logging
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.proxy import SECRET, free_port, prepare_database, wait_for  # noqa: E402

PUBLIC = "http://127.0.0.1:8080"


def proxied_environ(cookie: str) -> dict[str, Any]:
    """What gunicorn hands the gateway for a browser's ``GET /segment/bench/page``."""
    return {
        "REQUEST_METHOD": "GET", "PATH_INFO": "/segment/bench/page", "QUERY_STRING": "",
        "RAW_URI": "/segment/bench/page", "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8080",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""), "wsgi.errors": sys.stderr, "wsgi.version": (1, 0),
        "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False,
        "HTTP_HOST": "127.0.0.1:8080", "HTTP_ACCEPT": "text/html", "HTTP_COOKIE": cookie,
        "HTTP_USER_AGENT": "wrk",
    }


def best_of_three(call: Callable[[], object], rounds: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per call, each the best of three rounds of ``rounds`` calls."""
    cpu = wall = float("inf")
    for _ in range(3):
        started, clock = time.process_time(), time.perf_counter()
        for _ in range(rounds):
            call()
        cpu = min(cpu, (time.process_time() - started) / rounds * 1e6)
        wall = min(wall, (time.perf_counter() - clock) / rounds * 1e6)
    return cpu, wall


def async_best_of_three(make: Callable[[], Any], rounds: int) -> tuple[float, float]:
    """:func:`best_of_three` for a coroutine function, on one uvloop event loop."""
    import uvloop

    async def run() -> tuple[float, float]:
        call = make()
        for _ in range(200):
            await call()
        cpu = wall = float("inf")
        for _ in range(3):
            started, clock = time.process_time(), time.perf_counter()
            for _ in range(rounds):
                await call()
            cpu = min(cpu, (time.process_time() - started) / rounds * 1e6)
            wall = min(wall, (time.perf_counter() - clock) / rounds * 1e6)
        return cpu, wall

    return uvloop.run(run())


def asgi_call(make: Callable[[], Any], scope: dict[str, Any]) -> Any:
    """A coroutine function calling the ASGI app ``make()`` builds with ``scope`` (a 200)."""
    app = make()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise SystemExit(f"ASGI: not a 200: {message}")

    async def call() -> None:
        await app(dict(scope), receive, send)
    return call


def assertion_in_place(run: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """The CPU one ``Signer.assertion`` takes inside ``run`` (the async design's loop), where
    network work between two signatures leaves the caches cold: (CPU µs, nan)."""
    from gateway.proxy.signing import Signer

    real = Signer.assertion
    spent = [0.0, 0.0]

    def timed(self: Signer, *args: Any, **kwargs: Any) -> str:
        started = time.thread_time()
        try:
            return real(self, *args, **kwargs)
        finally:
            spent[0] += time.thread_time() - started
            spent[1] += 1

    Signer.assertion = timed  # type: ignore[method-assign]
    try:
        run()
    finally:
        Signer.assertion = real  # type: ignore[method-assign]
    return spent[0] / spent[1] * 1e6, float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2000)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--extra-path", default="")
    args = parser.parse_args()
    if args.extra_path:
        sys.path.append(args.extra_path)

    workdir = tempfile.mkdtemp(prefix="bench-builtin-")
    database = f"sqlite:///{workdir}/gateway.db"
    cookie = prepare_database(database, os.path.join(workdir, "keys"))
    port = free_port()
    upstream = f"http://127.0.0.1:{port}"
    product = subprocess.Popen(
        [os.path.join(os.path.dirname(sys.executable), "gunicorn"), "-w", "1", "-k", "gthread",
         "--threads", "16", "-b", f"127.0.0.1:{port}", "--log-level", "warning",
         "bench.edge:plain_page"], cwd=ROOT, env=dict(os.environ, PYTHONPATH=ROOT),
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(port, product)
        return measure(args, database, workdir, cookie, upstream)
    finally:
        product.terminate()
        product.wait(timeout=30)


def measure(args: argparse.Namespace, database: str, workdir: str, cookie: str,
            upstream: str) -> int:
    import urllib3

    from config import edge as edge_config
    from gateway import create_app
    from gateway.proxy import headers as hdr
    from gateway.proxy.decision import Question, decide

    os.environ.update(edge_config.GATEWAY_ENV, SEGMENT_UPSTREAM=upstream)
    app = create_app({"APP_ENV": "development", "DATABASE_URL": database, "SECRET_KEY": SECRET,
                      "ASSERTION_KEY_DIR": os.path.join(workdir, "keys"), "PUBLIC_URL": PUBLIC})
    logging.getLogger("gateway").setLevel(logging.WARNING)
    answered: list[str] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc: Any = None) -> Any:
        answered.append(status)

    def proxied() -> None:
        body = app.wsgi_app(proxied_environ(cookie), start_response)
        for _ in body:
            pass
        getattr(body, "close", lambda: None)()

    proxied()
    if not answered[-1].startswith("200"):
        raise SystemExit(f"the product was not reached: {answered[-1]}")
    for _ in range(300):
        proxied()

    from gateway.app import answer_server

    forward = answer_server(app).forward  # the same sessions, table and signer
    table, signer, sessions = forward.table, forward.signer, forward.sessions
    question = Question("/segment/bench/page", "", cookie)
    decision = decide(question, sessions, table)
    assert decision.product is not None and decision.principal is not None
    product, principal = decision.product, decision.principal
    inbound = [("Host", "127.0.0.1:8080"), ("Accept", "text/html"), ("Cookie", cookie),
               ("User-Agent", "wrk")]
    forwarded = hdr.forwarded_headers(client_ip="127.0.0.1", scheme="http",
                                      host="127.0.0.1:8080", prefix="/segment",
                                      request_id="0" * 32)
    pool = urllib3.connection_from_url(upstream, maxsize=8)
    probe = pool.urlopen("GET", "/bench/page", preload_content=False)
    response_headers = list(probe.headers.items())
    probe.read()
    probe.release_conn()

    def headers() -> None:
        hdr.upstream_request_headers(inbound, drop_cookies=("session", "remember_token"))
        hdr.forwarded_headers(client_ip="127.0.0.1", scheme="http", host="127.0.0.1:8080",
                              prefix="/segment", request_id="0" * 32)
        hdr.downstream_response_headers(response_headers, prefix="/segment",
                                        upstream_origin=product.origin,
                                        reserved_cookies=("session", "remember_token"))

    def urllib3_trip() -> None:
        response = product.pool.urlopen("GET", product.upstream_url("/bench/page", b""),
                                        headers={"Accept": "text/html"}, redirect=False,
                                        retries=False, preload_content=False,
                                        decode_content=False)
        for _ in response.stream(65536, decode_content=False):
            pass
        response.release_conn()

    def aiohttp_trip() -> Any:
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8),
                                        auto_decompress=False)

        async def call() -> None:
            async with session.get(upstream + "/bench/page",
                                   headers={"Accept": "text/html"}) as response:
                async for _ in response.content.iter_chunked(65536):
                    pass
        return call

    def httpx_trip() -> Any:
        import httpx2

        client = httpx2.AsyncClient(trust_env=False)

        async def call() -> None:
            async with client.stream("GET", upstream + "/bench/page",
                                     headers={"Accept": "text/html"}) as response:
                async for _ in response.aiter_raw(65536):
                    pass
        return call

    print(f"load average {os.getloadavg()[0]:.2f}; per request, best of 3 x {args.rounds}; "
          "CPU of this process only (the product is another)")
    print(f"  {'':52}{'CPU µs':>9}{'wall µs':>9}")
    rows: list[tuple[str, Callable[[], tuple[float, float]]]] = [
        ("built-in proxy, whole WSGI stack (no server)",
         lambda: best_of_three(proxied, args.rounds)),
        ("  decide (session from the cache)",
         lambda: best_of_three(lambda: decide(question, sessions, table), args.rounds)),
        ("  Signer.assertion (one ES256 signature)",
         lambda: best_of_three(lambda: signer.assertion(product, principal, "GET",
                                                        "/bench/page", forwarded),
                               args.rounds)),
        ("  header rewriting (request, forwarded, response)",
         lambda: best_of_three(headers, args.rounds)),
        ("  upstream round trip: urllib3 pool (as forward)",
         lambda: best_of_three(urllib3_trip, args.rounds)),
        ("  upstream round trip: httpx2 AsyncClient, uvloop",
         lambda: async_best_of_three(httpx_trip, args.rounds)),
    ]
    try:
        import aiohttp  # noqa: F401

        rows.append(("  upstream round trip: aiohttp ClientSession, uvloop",
                     lambda: async_best_of_three(aiohttp_trip, args.rounds)))
    except ImportError:
        print("  (aiohttp not found: --extra-path)")
    else:
        from bench.proxy_floors import async_floor, decide_floor

        os.environ.update(APP_ENV="development", DATABASE_URL=database, SECRET_KEY=SECRET,
                          ASSERTION_KEY_DIR=os.path.join(workdir, "keys"), PUBLIC_URL=PUBLIC)
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "GET", "scheme": "http", "path": "/segment/bench/page",
                 "raw_path": b"/segment/bench/page", "query_string": b"", "root_path": "",
                 "headers": [(k.lower().encode(), v.encode("latin-1")) for k, v in inbound],
                 "client": ("127.0.0.1", 40000), "server": ("127.0.0.1", 8080)}
        for name, make in (("async floor, aiohttp (ASGI app, no server)",
                            lambda: async_floor("aiohttp")),
                           ("async floor + decide, aiohttp (ASGI app, no server)",
                            lambda: decide_floor("aiohttp"))):
            rows.append((name, functools.partial(async_best_of_three,
                                                 functools.partial(asgi_call, make, scope),
                                                 args.rounds)))
        rows.append(("    of which Signer.assertion (thread CPU, in the loop)",
                     functools.partial(assertion_in_place, functools.partial(
                         async_best_of_three, functools.partial(
                             asgi_call, lambda: decide_floor("aiohttp"), scope), args.rounds))))
    for name, run in rows:
        cpu, wall = run()
        print(f"  {name:52}{cpu:9.1f}{wall:9.1f}")
    if args.profile:  # CPU time, not wall: a loaded machine's waits would swamp it
        profile = cProfile.Profile(time.process_time)
        profile.enable()
        for _ in range(args.rounds):
            proxied()
        profile.disable()
        print("the built-in proxy, whole WSGI stack:")
        show(profile)
        if "scope" in locals():
            import uvloop

            call = asgi_call(lambda: decide_floor("aiohttp"), scope)

            async def calls() -> None:
                for _ in range(200):
                    await call()
                profile = cProfile.Profile(time.process_time)
                profile.enable()
                for _ in range(args.rounds):
                    await call()
                profile.disable()
                print("the async floor + decide (aiohttp), ASGI app:")
                show(profile)
            uvloop.run(calls())
    return 0


def show(profile: cProfile.Profile) -> None:
    """The profile's top lines by own time and by cumulative time."""
    for order in ("tottime", "cumulative"):
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats(order).print_stats(35)
        print(out.getvalue())


if __name__ == "__main__":
    raise SystemExit(main())
