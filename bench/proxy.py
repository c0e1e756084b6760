"""Benchmark: a product page directly vs the same page through the gateway with a live session.

    .venv/bin/python bench/proxy.py [--duration 10] [--connections 32] [--cache-seconds 2]

Starts, on loopback ports under gunicorn, the echo product (``tests.support.echo``: it verifies
the assertion like a real product) and the gateway (``config/gunicorn_gateway.py``) on a fresh
SQLite database holding one signed-in, linked user; then runs wrk (installed from Debian when
missing) against both and prints requests/s, p50/p99 latency and the ratio. It also counts the
SQL statements the gateway ran per proxied request (SQLAlchemy event in each worker).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gateway import db as gateway_db  # noqa: E402

LUA = os.path.join(ROOT, "bench", "session.lua")
SECRET = "bench-secret-key-" + "1" * 32


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    bad: int


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    print("wrk not found; installing it from Debian (apt-get install -y wrk)")
    subprocess.run(["apt-get", "install", "-y", "wrk"], check=False, capture_output=True)
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "update"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "wrk"], check=True, capture_output=True)
    return shutil.which("wrk") or "wrk"


def wait_for(port: int, child: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {child.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


def prepare_database(url: str, key_dir: str) -> str:
    """Schema, one verified user linked to segment, one live session; returns the cookie."""
    from sqlalchemy import create_engine

    from gateway import create_app
    from gateway.db import Base, new_session
    from gateway.models import LoginSession, ProductLink, User, utcnow

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app({"APP_ENV": "test", "DATABASE_URL": url, "SECRET_KEY": SECRET,
                      "ASSERTION_KEY_DIR": key_dir})  # creates the signing key
    token = secrets.token_urlsafe(32)
    with app.app_context(), new_session() as session:
        user = User(email="bench@example.com", password_hash="x", email_verified_at=utcnow())
        session.add(user)
        session.flush()
        session.add(LoginSession(id=hashlib.sha256(token.encode()).hexdigest(), user_id=user.id,
                                 auth_methods="pwd"))
        session.add(ProductLink(user_id=user.id, product="segment", product_user_id="bench-1"))
        session.commit()
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    cookie = serializer.dumps({"sid": token, "_permanent": True})
    gateway_db.engine(app).dispose()
    return f"{app.config['SESSION_COOKIE_NAME']}={cookie}"


def run_wrk(wrk: str, url: str, cookie: str, duration: int, connections: int,
            headers: str = "") -> Result:
    """wrk at ``url`` with the session ``cookie`` and ``headers`` ("Name: value" lines)."""
    env = dict(os.environ, BENCH_COOKIE=cookie, BENCH_HEADERS=headers)
    threads = min(2, connections)
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration}s", "-s", LUA, url]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    line = next(x for x in output.splitlines() if x.startswith("RESULT "))
    rps, p50, p99, requests, bad = line.split()[1:]
    return Result(float(rps), float(p50), float(p99), int(requests), int(bad))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--cache-seconds", type=int, default=2,
                        help="SESSION_CACHE_SECONDS of the gateway (0: one SELECT per request)")
    parser.add_argument("--gateway-workers", type=int, default=2)
    args = parser.parse_args()

    wrk = ensure_wrk()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    workdir = tempfile.mkdtemp(prefix="bench-proxy-")
    database = f"sqlite:///{workdir}/gateway.db"
    cookie = prepare_database(database, os.path.join(workdir, "keys"))
    product_port, gateway_port = free_port(), free_port()
    env = dict(
        os.environ,
        PYTHONPATH=ROOT,
        APP_ENV="development",
        DATABASE_URL=database,
        SECRET_KEY=SECRET,
        SEGMENT_UPSTREAM=f"http://127.0.0.1:{product_port}",
        SESSION_CACHE_SECONDS=str(args.cache_seconds),
        GATEWAY_BIND=f"127.0.0.1:{gateway_port}",
        WEB_CONCURRENCY=str(args.gateway_workers),
        GATEWAY_LOG_LEVEL="warning",
        ASSERTION_KEY_DIR=os.path.join(workdir, "keys"),
        BENCH_COUNT_SQL=os.path.join(workdir, "sql-count"),
    )
    product = subprocess.Popen(
        [gunicorn, "-w", "1", "-k", "gthread", "--threads", "16", "-b",
         f"127.0.0.1:{product_port}", "--log-level", "warning",
         "tests.support.echo:remote_echo_app('segment', "
         f"'http://127.0.0.1:{gateway_port}/.well-known/jwks.json')"],
        cwd=ROOT, env=env,
    )
    gateway = subprocess.Popen(
        [gunicorn, "-c", os.path.join(ROOT, "config", "gunicorn_gateway.py"),
         "bench.sqlcount:create_app()"],
        cwd=ROOT, env=env,
    )
    try:
        wait_for(product_port, product)
        wait_for(gateway_port, gateway)
        direct_url = f"http://127.0.0.1:{product_port}/bench/page"
        proxied_url = f"http://127.0.0.1:{gateway_port}/segment/bench/page"
        check = subprocess.run(["curl", "-s", "-H", f"Cookie: {cookie}", proxied_url],
                               capture_output=True, text=True)
        if "Signed in as bench@example.com on /bench/page" not in check.stdout:
            raise SystemExit("the gateway did not forward a verified assertion:\n" + check.stdout)
        run_wrk(wrk, direct_url, cookie, 2, args.connections)  # warm up both
        run_wrk(wrk, proxied_url, cookie, 2, args.connections)
        direct = run_wrk(wrk, direct_url, cookie, args.duration, args.connections)
        time.sleep(1)
        before = _sql_count(env["BENCH_COUNT_SQL"])
        proxied = run_wrk(wrk, proxied_url, cookie, args.duration, args.connections)
        time.sleep(1)  # let every worker flush its statement counter
        statements = _sql_count(env["BENCH_COUNT_SQL"]) - before
        # Latency without queueing: one connection at a time.
        direct_1 = run_wrk(wrk, direct_url, cookie, args.duration, 1)
        proxied_1 = run_wrk(wrk, proxied_url, cookie, args.duration, 1)
    finally:
        for child in (gateway, product):
            child.terminate()
        for child in (gateway, product):
            child.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nwrk: 2 threads, {args.connections} connections, {args.duration}s each; "
          f"gateway: {args.gateway_workers} gthread workers, SESSION_CACHE_SECONDS="
          f"{args.cache_seconds}; {os.cpu_count()} CPUs shared by all processes")
    print(f"{'':22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'non-2xx':>10}")
    for name, result in (("direct product", direct), ("through gateway", proxied)):
        print(f"{name:22}{result.rps:10.0f}{result.p50_ms:10.2f}{result.p99_ms:10.2f}"
              f"{result.bad:10d}")
    print(f"throughput ratio (gateway / direct): {proxied.rps / direct.rps:.2f}  (target >= 0.5)")
    print("\none connection (latency without queueing):")
    for name, result in (("direct product", direct_1), ("through gateway", proxied_1)):
        print(f"{name:22}{result.rps:10.0f}{result.p50_ms:10.2f}{result.p99_ms:10.2f}"
              f"{result.bad:10d}")
    print(f"added p50 latency: {proxied_1.p50_ms - direct_1.p50_ms:.2f} ms  (target < 2 ms)")
    print(f"SQL statements per proxied request: {statements / max(proxied.requests, 1):.3f}"
          "  (target <= 1)")
    return 0


def _sql_count(folder: str) -> int:
    if not os.path.isdir(folder):
        return 0
    total = 0
    for name in os.listdir(folder):
        with open(os.path.join(folder, name)) as handle:
            total += int(handle.read() or 0)
    return total


if __name__ == "__main__":
    raise SystemExit(main())
