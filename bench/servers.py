"""Benchmark: what a server costs per answer, with the gateway's app and with an app that costs
nothing (the server's floor).

    .venv/bin/python bench/servers.py [--duration 5] [--server gunicorn-gthread ...] [--app null]

Starts one server (one worker process) on a loopback port and sends it what nginx sends to
``/auth/nginx`` for a signed-in, linked person (fresh SQLite database), with wrk at one
connection and at eight; prints req/s, p50 and the server's CPU per request from ``/proc``, with
the load average (the machine is shared). ``--app null`` serves an empty 200 with an 800-byte
header instead (WSGI or ASGI), so the figure is the server alone. The ASGI servers
(``gunicorn-uvicorn``: the answer server as deployed, ``config/gunicorn_answers.py``;
``uvicorn``: its own supervisor; ``granian-asgi``) serve ``gateway:create_answer_app``, the WSGI
ones ``gateway:create_app``. granian is not a dependency: install it beside (``pip install
--target DIR granian``) and name ``DIR`` in ``--extra-path``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.procfs import tree_cpu  # noqa: E402
from bench.proxy import SECRET, ensure_wrk, free_port, prepare_database, wait_for  # noqa: E402
from config import edge as edge_config  # noqa: E402

_NULL_HEADERS = [("Content-Length", "0"), ("X-Identity-Assertion", "x" * 800)]


def null_wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """An answer that costs nothing but the server's work."""
    start_response("200 OK", _NULL_HEADERS)
    return []


async def null_asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The same for an ASGI server."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200,
                "headers": [(k.lower().encode(), v.encode()) for k, v in _NULL_HEADERS]})
    await send({"type": "http.response.body", "body": b""})


SERVERS = ("gunicorn-gthread", "gunicorn-sync", "gunicorn-uvicorn", "uvicorn", "granian-asgi",
           "granian-wsgi")


def command(server: str, app: str, port: int) -> list[str]:
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    config = os.path.join(ROOT, "config", "gunicorn_gateway.py")
    wsgi = "gateway:create_app()" if app == "gateway" else "bench.servers:null_wsgi"
    common = ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    if server == "gunicorn-gthread":
        return [gunicorn, "-c", config, wsgi]
    if server == "gunicorn-sync":
        return [gunicorn, "-c", config, "-k", "sync", wsgi]
    if server == "granian-wsgi":
        target = (["--factory", "gateway:create_app"] if app == "gateway"
                  else ["bench.servers:null_wsgi"])
        return [sys.executable, "-m", "granian", "--interface", "wsgi", "--workers", "1",
                "--blocking-threads", "16", *common, *target]
    # ASGI: the gateway's answer server (gateway:create_answer_app), or the empty app.
    if server == "gunicorn-uvicorn":  # as deployed: config/gunicorn_answers.py
        return [gunicorn, "-c", os.path.join(ROOT, "config", "gunicorn_answers.py"),
                "gateway:create_answer_app()" if app == "gateway" else "bench.servers:null_asgi"]
    target = (["--factory", "gateway:create_answer_app"] if app == "gateway"
              else ["bench.servers:null_asgi"])
    if server == "uvicorn":  # uvicorn's own supervisor (--workers) instead of gunicorn's
        return [sys.executable, "-m", "uvicorn", "--http", "httptools", "--loop", "uvloop",
                "--no-proxy-headers", "--no-server-header", "--workers", "1", *common, *target]
    return [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", "1", *common,
            *target]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--server", action="append", choices=SERVERS)
    parser.add_argument("--app", choices=("gateway", "null"), default="gateway")
    parser.add_argument("--extra-path", default="", help="where the other servers are installed")
    args = parser.parse_args()

    wrk = ensure_wrk()
    workdir = tempfile.mkdtemp(prefix="bench-servers-")
    database = f"sqlite:///{workdir}/gateway.db"
    cookie = prepare_database(database, os.path.join(workdir, "keys"))
    for server in args.server or ["gunicorn-gthread"]:
        port = free_port()
        env = dict(os.environ, PYTHONPATH=":".join(p for p in (ROOT, args.extra_path) if p),
                   APP_ENV="development", DATABASE_URL=database, SECRET_KEY=SECRET,
                   GATEWAY_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1",
                   ANSWERS_BIND=f"127.0.0.1:{port}", ANSWERS_WORKERS="1",
                   GATEWAY_THREADS="16", GATEWAY_LOG_LEVEL="warning",
                   ASSERTION_KEY_DIR=os.path.join(workdir, "keys"),
                   PUBLIC_URL=f"http://127.0.0.1:{port}", **edge_config.GATEWAY_ENV)
        child = subprocess.Popen(command(server, args.app, port), env=env, cwd=ROOT,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for(port, child)
            url = f"http://127.0.0.1:{port}/auth/nginx"
            headers = [f"Cookie: {cookie}", "X-Original-Method: GET",
                       f"X-Original-URL: http://127.0.0.1:{port}/segment/bench/page",
                       "X-Forwarded-For: 127.0.0.1", "X-Forwarded-Proto: http",
                       f"X-Forwarded-Host: 127.0.0.1:{port}"]
            flags = [part for header in headers for part in ("-H", header)]
            check = subprocess.run(["curl", "-s", "-o", "/dev/null", "-D", "-", *flags, url],
                                   capture_output=True, text=True).stdout.lower()
            if " 200" not in check.split("\n", 1)[0] or "x-identity-assertion" not in check:
                raise SystemExit(f"{server}: no allowed answer:\n{check}")
            subprocess.run([wrk, "-t1", "-c1", "-d2s", *flags, url], capture_output=True)
            figures = []
            for connections in (1, 8):
                before = tree_cpu(child.pid)
                out = subprocess.run([wrk, "-t1", f"-c{connections}", f"-d{args.duration}s",
                                      "--latency", *flags, url],
                                     capture_output=True, text=True).stdout.splitlines()
                used = tree_cpu(child.pid) - before
                count = int(next(x for x in out if "requests in" in x).split()[0])
                p50 = next(x for x in out if x.strip().startswith("50%")).split()[1]
                figures.append(f"{connections}c {count / args.duration:6.0f} req/s p50 {p50:>8} "
                               f"CPU {1000 * used / count:.3f} ms")
            print(f"{server:17} {args.app:7} load {os.getloadavg()[0]:5.2f} | "
                  + " | ".join(figures), flush=True)
        finally:
            child.terminate()
            child.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
