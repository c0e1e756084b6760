"""Benchmark: one product page seven ways, in one run (issues 14 and 23).

    .venv/bin/python bench/edge.py [--duration 8] [--connections 8] [--product plain|real]

On loopback ports: the product under gunicorn (1 gthread worker, 16 threads): by default
(``--product plain``, issue 23's table) a plain page that verifies nothing, so only the edge and
the gateway are priced; with ``--product real`` the echo product, which verifies the assertion
with the gateway's JWKS like a real product. The gateway under
``config/gunicorn_gateway.py`` (or granian, ``--gateway-server granian``, to compare servers)
and its answer server under ``config/gunicorn_answers.py`` (``--answers-workers``; with
``--answers-server none`` forward-auth is asked of the gateway's own server, the layout before
issue 23's item 2) on a fresh SQLite database with one signed-in user linked to Segment, then:

- direct: the product itself;
- plain nginx: nginx proxying to the product, no auth (the hop operators already pay);
- nginx floor: the same with ``auth_request`` to a location nginx answers itself (the floor of
  the pattern);
- forward-auth answer alone: wrk straight at the answer server's ``/auth/nginx`` with nginx's
  headers;
- nginx + forward-auth: the shipped ``config/edge/nginx.conf`` (auth_request to the answer
  server);
- Caddy + forward-auth: the shipped ``config/edge/Caddyfile`` (forward_auth to the answer
  server);
- built-in proxy: the gateway itself proxying ``/segment/``.

With ``--proxy-floors`` (issue 23, item 4) rows are added for pass-through proxies to the same
page that do (next to) nothing (``bench/proxy_floors.py``): ``gthread`` (the built-in proxy's
server and urllib3 pool, no auth), ``aiohttp`` / ``httpx`` (uvicorn + httptools + uvloop under
gunicorn, as the answer server, with a pooled async client), ``decide-aiohttp`` /
``decide-httpx`` (the async floor plus the gateway's real decision, header rewriting and
assertion). Each has ``--gateway-workers`` workers; ``--extra-path`` puts a folder holding
aiohttp (not a dependency) on their path.

The page is ``/bench/page``: with the echo product a few lines naming who is signed in, after
it verified the assertion (none on direct and plain nginx). wrk (``apt-get install -y wrk``;
installed when missing) measures each with ``--connections`` (throughput) and with one
connection (latency without queueing), and the ratios the issue targets are printed, with the
CPU each process spent per request (from ``/proc``) to show where a path's cost goes. Before
measuring, each path must show the product a verified assertion (or, for direct and plain
nginx, reach it).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from bench.procfs import tree_cpu  # noqa: E402
from bench.proxy import (  # noqa: E402
    SECRET,
    Result,
    ensure_wrk,
    free_port,
    prepare_database,
    run_wrk,
    wait_for,
)
from config import edge as edge_config  # noqa: E402

PLAIN_NGINX = """
worker_processes auto;
pid nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path tmp/client_body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    upstream product { server 127.0.0.1:PRODUCT; keepalive 32; }
    server {
        listen 127.0.0.1:LISTEN;
        location /segment/ {
            AUTH
            proxy_pass http://product/;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
        }
        location = /_floor { internal; return 204; }
    }
}
"""

#: The plain product's page: what a product that verifies nothing answers.
PLAIN_PAGE = b"<!doctype html><title>Page</title><p>A product page.</p>\n"


def plain_page(environ: dict[str, object], start_response: object) -> list[bytes]:
    """A product page that costs its product next to nothing and verifies nothing."""
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"),  # type: ignore[operator]
                              ("Content-Length", str(len(PLAIN_PAGE)))])
    return [PLAIN_PAGE]

#: What the answer server says to an allowed ``/auth/nginx`` for the page, as fixed bytes (an
#: assertion of a real one's length): ``--answers-app fixed`` serves only this, so the rows price
#: the server, the hops, the shipped nginx configuration and the product's extra headers without
#: the gateway's own work (decision, session, signature).
FIXED_ANSWER = [(b"cache-control", b"no-store"), (b"x-gateway-path", b"/bench/page"),
                (b"x-gateway-path-unescaped", b"/bench/page"),
                (b"x-gateway-forwarded-for", b"127.0.0.1"),
                (b"x-gateway-forwarded-proto", b"http"),
                (b"x-gateway-forwarded-host", b"127.0.0.1"),
                (b"x-gateway-forwarded-prefix", b"/segment"),
                (b"x-identity-assertion", b"eyJ" + b"A" * 800),
                (b"x-gateway-cookie", b""), (b"x-request-id", b"0" * 32),
                (b"content-length", b"0")]


async def fixed_answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An answer server that answers every question with :data:`FIXED_ANSWER`."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await send({"type": "http.response.start", "status": 200, "headers": FIXED_ANSWER})
    await send({"type": "http.response.body", "body": b""})


NAMES = ("direct", "plain nginx", "nginx floor", "forward-auth answer alone",
         "nginx + forward-auth", "Caddy + forward-auth", "built-in proxy")

#: ``--proxy-floors`` choices: row name, gunicorn configuration, app (bench/proxy_floors.py).
FLOORS = {
    "gthread": ("floor: gthread+urllib3", "gunicorn_gateway.py",
                "bench.proxy_floors:gthread_floor"),
    "aiohttp": ("floor: uvicorn+aiohttp", "gunicorn_answers.py",
                "bench.proxy_floors:aiohttp_floor()"),
    "httpx": ("floor: uvicorn+httpx", "gunicorn_answers.py", "bench.proxy_floors:httpx_floor()"),
    "decide-aiohttp": ("floor: +decide, aiohttp", "gunicorn_answers.py",
                       "bench.proxy_floors:decide_floor('aiohttp')"),
    "decide-httpx": ("floor: +decide, httpx", "gunicorn_answers.py",
                     "bench.proxy_floors:decide_floor('httpx')"),
}


def _start(argv: list[str], env: dict[str, str], cwd: str = ROOT) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def check_page(name: str, url: str, cookie: str, headers: str, product: str) -> None:
    """Before measuring: the path reaches the product (with a verified assertion where the
    gateway is on it and the product is the real one), or the gateway allows with one."""
    flags = [part for line in headers.splitlines() for part in ("-H", line)]
    answer = subprocess.run(["curl", "-s", "-D", "-", "-H", f"Cookie: {cookie}", *flags, url],
                            capture_output=True, text=True).stdout
    if name == "forward-auth answer alone":
        if " 200" not in answer.split("\n", 1)[0] or "x-identity-assertion" not in answer.lower():
            raise SystemExit(f"{name}: no allowed answer with an assertion:\n{answer[:500]}")
        return
    page = answer.replace(" ", "")
    if product == "plain" or name in ("direct", "plain nginx", "nginx floor"):
        expected = ("Aproductpage." if product == "plain"
                    else "Signedinasnobodyon/bench/page")
        if expected not in page:
            raise SystemExit(f"{name}: the product was not reached:\n{answer[:500]}")
    elif "Signedinasbench@example.comon/bench/page" not in page:
        raise SystemExit(f"{name}: no verified assertion at the product:\n{answer[:500]}")


def gateway_command(server: str, port: int, workers: int, threads: int) -> list[str]:
    bindir = os.path.dirname(sys.executable)
    if server == "gunicorn":
        return [os.path.join(bindir, "gunicorn"), "-c",
                os.path.join(ROOT, "config", "gunicorn_gateway.py"), "gateway:create_app()"]
    return [os.path.join(bindir, "granian"), "--interface", "wsgi", "--factory",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--blocking-threads", str(threads), "--no-access-log", "--log-level", "warning",
            "gateway:create_app"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--gateway-workers", type=int, default=2)
    parser.add_argument("--gateway-threads", type=int, default=16)
    parser.add_argument("--product-workers", type=int, default=1,
                        help="the product's gunicorn workers (1: the issue's set-up; with more, "
                             "one product process no longer caps the authenticated paths)")
    parser.add_argument("--gateway-server", choices=("gunicorn", "granian"), default="gunicorn")
    parser.add_argument("--answers-server", choices=("gunicorn-uvicorn", "none"),
                        default="gunicorn-uvicorn",
                        help="none: forward-auth asked of the gateway's own server")
    parser.add_argument("--answers-workers", type=int, default=min(4, os.cpu_count() or 1))
    parser.add_argument("--answers-app", choices=("gateway", "fixed"), default="gateway",
                        help="fixed: the answer server answers fixed bytes (the pattern's floor "
                             "with a separate answer process)")
    parser.add_argument("--product", choices=("plain", "real"), default="plain",
                        help="plain: a page that verifies nothing (issue 23); real: the echo "
                             "product verifying the assertion")
    parser.add_argument("--hold", type=int, default=0,
                        help="before measuring, print the pids, URLs and cookie, then wait this "
                             "many seconds (attach py-spy, run wrk by hand)")
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(NAMES)
                        + " (and the --proxy-floors rows' names)")
    parser.add_argument("--proxy-floors", default="",
                        help="comma-separated, added rows: " + ", ".join(FLOORS))
    parser.add_argument("--extra-path", default="",
                        help="a folder put on the floors' PYTHONPATH (aiohttp)")
    args = parser.parse_args()
    floors = [FLOORS[kind.strip()] for kind in args.proxy_floors.split(",") if kind.strip()]

    wrk = ensure_wrk()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    workdir = tempfile.mkdtemp(prefix="bench-edge-")
    database = f"sqlite:///{workdir}/gateway.db"
    cookie = prepare_database(database, os.path.join(workdir, "keys"))
    ports = {name: free_port() for name in ("product", "gateway", "answers", "plain", "floor",
                                            "nginx", "caddy")}
    if args.answers_server == "none":
        ports["answers"] = ports["gateway"]
    public = f"http://127.0.0.1:{ports['nginx']}"
    env = dict(
        os.environ,
        PYTHONPATH=ROOT,
        APP_ENV="development",
        DATABASE_URL=database,
        SECRET_KEY=SECRET,
        SEGMENT_UPSTREAM=f"http://127.0.0.1:{ports['product']}",
        GATEWAY_BIND=f"127.0.0.1:{ports['gateway']}",
        WEB_CONCURRENCY=str(args.gateway_workers),
        GATEWAY_THREADS=str(args.gateway_threads),
        ANSWERS_BIND=f"127.0.0.1:{ports['answers']}",
        ANSWERS_WORKERS=str(args.answers_workers),
        GATEWAY_LOG_LEVEL="warning",
        ASSERTION_KEY_DIR=os.path.join(workdir, "keys"),
        **edge_config.GATEWAY_ENV,
    )
    children: list[subprocess.Popen[bytes]] = []
    results: dict[str, tuple[Result, Result]] = {}
    cpu: dict[str, dict[str, float]] = {}
    try:
        # The issuer the product expects is the gateway's PUBLIC_URL: one for every path here.
        env["PUBLIC_URL"] = public
        product_app = "bench.edge:plain_page" if args.product == "plain" else (
            f"tests.support.echo:remote_echo_app('segment', 'http://127.0.0.1:"
            f"{ports['gateway']}/.well-known/jwks.json', '{public}')")
        children.append(_start(
            [gunicorn, "-w", str(args.product_workers), "-k", "gthread", "--threads", "16", "-b",
             f"127.0.0.1:{ports['product']}", "--log-level", "warning", product_app], env))
        children.append(_start(gateway_command(args.gateway_server, ports["gateway"],
                                                args.gateway_workers, args.gateway_threads),
                               env))
        wait_for(ports["product"], children[0])
        wait_for(ports["gateway"], children[1])
        answers = children[1]
        if args.answers_server != "none":
            answers = _start([gunicorn, "-c", os.path.join(ROOT, "config", "gunicorn_answers.py"),
                              "gateway:create_answer_app()" if args.answers_app == "gateway"
                              else "bench.edge:fixed_answer"], env)
            children.append(answers)
            wait_for(ports["answers"], answers)

        nginx = edge_config.binary("nginx")
        edges = {}
        for kind, auth in (("plain", ""), ("floor", "auth_request /_floor;")):
            plain_dir = os.path.join(workdir, kind)
            os.makedirs(os.path.join(plain_dir, "tmp"))
            with open(os.path.join(plain_dir, "nginx.conf"), "w") as f:
                f.write(PLAIN_NGINX.replace("PRODUCT", str(ports["product"]))
                        .replace("LISTEN", str(ports[kind])).replace("AUTH", auth))
            edges[kind] = _start([nginx, "-p", plain_dir, "-e", "stderr", "-c",
                                  os.path.join(plain_dir, "nginx.conf"), "-g", "daemon off;"],
                                 env)
            children.append(edges[kind])
        addresses = {"gateway": f"127.0.0.1:{ports['gateway']}",
                     "answers": f"127.0.0.1:{ports['answers']}",
                     "segment": f"127.0.0.1:{ports['product']}",
                     "sendgrid": f"127.0.0.1:{ports['product']}"}
        for kind in ("nginx", "caddy"):
            run = edge_config.command(kind, os.path.join(workdir, kind),
                                      listen=f"127.0.0.1:{ports[kind]}", **addresses)
            edges[kind] = _start(run.argv, run.env, cwd=workdir)
            children.append(edges[kind])
        for name, child in edges.items():
            wait_for(ports[name], child)
        floor_env = dict(env, ANSWERS_WORKERS=str(args.gateway_workers))
        if args.extra_path:
            floor_env["PYTHONPATH"] = ROOT + os.pathsep + args.extra_path
        floor_servers = {}
        for name, config, app in floors:
            port = free_port()
            floor_servers[name] = (port, _start(
                [gunicorn, "-c", os.path.join(ROOT, "config", config), app],
                dict(floor_env, GATEWAY_BIND=f"127.0.0.1:{port}",
                     ANSWERS_BIND=f"127.0.0.1:{port}")))
            children.append(floor_servers[name][1])
        for port, child in floor_servers.values():
            wait_for(port, child)

        urls = {
            "direct": f"http://127.0.0.1:{ports['product']}/bench/page",
            "plain nginx": f"http://127.0.0.1:{ports['plain']}/segment/bench/page",
            "nginx floor": f"http://127.0.0.1:{ports['floor']}/segment/bench/page",
            "forward-auth answer alone": f"http://127.0.0.1:{ports['answers']}/auth/nginx",
            "nginx + forward-auth": f"http://127.0.0.1:{ports['nginx']}/segment/bench/page",
            "Caddy + forward-auth": f"http://127.0.0.1:{ports['caddy']}/segment/bench/page",
            "built-in proxy": f"http://127.0.0.1:{ports['gateway']}/segment/bench/page",
        }
        for name, (port, _child) in floor_servers.items():
            urls[name] = f"http://127.0.0.1:{port}/segment/bench/page"
        # What nginx's auth_request sends the gateway for the page (config/edge/nginx.conf).
        asked = {"forward-auth answer alone": (
            f"X-Original-Method: GET\nX-Original-URL: {public}/segment/bench/page\n"
            f"X-Forwarded-For: 127.0.0.1\nX-Forwarded-Proto: http\n"
            f"X-Forwarded-Host: 127.0.0.1:{ports['nginx']}")}
        chosen = ([n.strip() for n in args.only.split(",")] if args.only
                  else list(NAMES)) + list(floor_servers)
        for name in chosen:
            check_page(name, urls[name], cookie, asked.get(name, ""), args.product)
            run_wrk(wrk, urls[name], cookie, 2, args.connections,
                    asked.get(name, ""))  # warm up
        if args.hold:
            print(f"holding {args.hold} s for a profiler: pids {[c.pid for c in children]}, "
                  f"cookie {cookie}", *urls.values(), sep="\n", flush=True)
            time.sleep(args.hold)
        edge_of = {"plain nginx": "plain", "nginx floor": "floor",
                   "nginx + forward-auth": "nginx", "Caddy + forward-auth": "caddy"}
        for name in chosen:
            server = floor_servers[name][1] if name in floor_servers else children[1]
            roles = {"product": children[0].pid, "gateway": server.pid,
                     "answers": answers.pid if answers is not children[1] else 0,
                     "edge": edges[edge_of[name]].pid if name in edge_of else 0}
            before = {role: tree_cpu(pid) for role, pid in roles.items() if pid}
            wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
            many = run_wrk(wrk, urls[name], cookie, args.duration, args.connections,
                           asked.get(name, ""))
            wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
            used = {role: tree_cpu(pid) - before[role] for role, pid in roles.items() if pid}
            used["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime
                           - wrk_before.ru_utime - wrk_before.ru_stime)
            cpu[name] = {role: 1000 * seconds / max(1, many.requests)
                         for role, seconds in used.items()}
            time.sleep(0.5)
            one = run_wrk(wrk, urls[name], cookie, args.duration, 1, asked.get(name, ""))
            results[name] = (many, one)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            try:
                child.wait(timeout=30)
            except subprocess.TimeoutExpired:
                child.kill()
        shutil.rmtree(workdir, ignore_errors=True)

    print(f"\nwrk: {args.connections} connections (and 1), {args.duration}s each; gateway: "
          f"{args.gateway_server}, {args.gateway_workers} workers x {args.gateway_threads} "
          f"threads; answers: {args.answers_server} ({args.answers_app}), "
          f"{args.answers_workers} workers; "
          f"product: {args.product_workers} worker(s); {os.cpu_count()} CPUs shared "
          "by every process")
    print(f"{'':24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'non-2xx':>9}"
          f"{'1c req/s':>10}{'1c p50':>9}")
    for name, (many, one) in results.items():
        print(f"{name:24}{many.rps:9.0f}{many.p50_ms:9.2f}{many.p99_ms:9.2f}{many.bad:9d}"
              f"{one.rps:10.0f}{one.p50_ms:9.2f}")

    def ratio(a: str, b: str) -> str:
        if a in results and b in results:
            return f"{results[a][0].rps / results[b][0].rps:.2f}"
        return "-"

    def added(a: str, b: str) -> str:
        if a in results and b in results:
            return f"{results[a][1].p50_ms - results[b][1].p50_ms:+.2f} ms"
        return "-"

    roles = ("product", "gateway", "answers", "edge", "wrk")
    print(f"\nCPU ms per request by process ({args.connections}-connection runs; the edge is "
          "the row's nginx or Caddy)")
    print(f"{'':24}" + "".join(f"{role:>9}" for role in roles) + f"{'total':>9}")
    for name, used in cpu.items():
        print(f"{name:24}" + "".join(f"{used.get(role, 0.0):9.3f}" for role in roles)
              + f"{sum(used.values()):9.3f}")
    if args.product_workers == 1 and "plain nginx" in cpu and "nginx + forward-auth" in cpu:
        # The product is one process: what verifying the assertion adds to it bounds the
        # throughput of every authenticated path, whatever the gateway and the edge cost.
        ceiling = cpu["plain nginx"]["product"] / cpu["nginx + forward-auth"]["product"]
        print(f"product CPU per request, plain nginx / nginx + forward-auth: {ceiling:.2f} "
              "(the throughput ratio's ceiling were the gateway and the edge free)")
    print(f"\nissue 23's table ({args.product} product; load average "
          f"{os.getloadavg()[0]:.2f}):")
    rows = (("nginx floor", "plain nginx", "-"),
            ("nginx + forward-auth", "plain nginx", ">= 0.80, <= +0.25 ms"),
            ("built-in proxy", "plain nginx", ">= 0.60, <= +0.60 ms"))
    for name, base, target in rows:
        print(f"  {name:26} {ratio(name, base):>5} of {base}, {added(name, base):>9} p50"
              f"   target {target}")
    if "forward-auth answer alone" in results:
        print(f"  {'forward-auth answer alone':26} "
              f"{results['forward-auth answer alone'][1].p50_ms:.2f} ms p50 (1 conn)"
              "   target <= 0.20 ms")
    for name in floor_servers:
        print(f"  {name:26} {ratio(name, 'plain nginx'):>5} of plain nginx, "
              f"{added(name, 'plain nginx'):>9} p50")
    print(f"  Caddy + forward-auth       {ratio('Caddy + forward-auth', 'plain nginx'):>5} of "
          f"plain nginx, {added('Caddy + forward-auth', 'plain nginx'):>9} p50")
    print(f"  plain nginx                {ratio('plain nginx', 'direct'):>5} of direct, "
          f"{added('plain nginx', 'direct'):>9} p50")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
