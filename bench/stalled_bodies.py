"""Benchmark: pages answered while clients stall their request bodies on Console forms.

    .venv/bin/python bench/stalled_bodies.py [--stalled 80] [--clients 4] [--window 40]

Starts the stack with the gateway under gunicorn as docs/operations.md "Deployment" runs it
(``config/gunicorn_gateway.py``, 2 workers x 16 threads, the default ``REQUEST_BODY_TIMEOUT``),
opens ``--stalled`` connections that each send a Console form post (``/verify-email/resend``,
``/login``, ``/signup``, ``/forgot-password``, ``/login/2fa`` in turn) announcing
``Content-Length: 60000`` and then stop sending, and for ``--window`` seconds lets ``--clients``
clients ask ``GET /login`` one after another (5 s timeout each). Prints how many pages were
answered, their latency, and what each stalled connection got back (None: nothing).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from tests.support.raw_http import answer_head, stalled_post, status_of  # noqa: E402
from tests.support.stack import running_stack  # noqa: E402

FORMS = ("/verify-email/resend", "/login", "/signup", "/forgot-password", "/login/2fa")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--stalled", type=int, default=80)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--window", type=float, default=40.0)
    args = parser.parse_args()
    env = {"WEB_CONCURRENCY": "2", "GATEWAY_THREADS": "16"}
    with tempfile.TemporaryDirectory() as workdir, running_stack(
        workdir, server="gunicorn", **env
    ) as stack:
        url = stack.gateway_url
        stalled = [
            stalled_post(url, FORMS[i % len(FORMS)], 60000, b"email=a")
            for i in range(args.stalled)
        ]
        time.sleep(0.5)
        started = time.monotonic()
        end = started + args.window
        latencies: list[float] = []
        asked = 0
        lock = threading.Lock()

        def client(_: int) -> None:
            nonlocal asked
            while time.monotonic() < end:
                began = time.monotonic()
                try:
                    ok = requests.get(url + "/login", timeout=5).status_code == 200
                except requests.RequestException:
                    ok = False
                with lock:
                    asked += 1
                    if ok:
                        latencies.append(time.monotonic() - began)
                time.sleep(0.2)

        with ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(client, range(args.clients)))
        outcomes = Counter(
            str(status_of(answer_head(sock, max(0.01, end + 1 - time.monotonic()))))
            for sock in stalled
        )
        for sock in stalled:
            sock.close()
    first = min(latencies) if latencies else None
    print(f"stalled connections: {args.stalled}, window: {args.window:.0f} s, "
          f"clients: {args.clients}")
    print(f"GET /login answered: {len(latencies)} of {asked}")
    if latencies:
        print(f"latency: median {statistics.median(latencies) * 1000:.0f} ms, "
              f"fastest {first * 1000:.0f} ms, slowest {max(latencies) * 1000:.0f} ms")
    print("stalled connections got: " + ", ".join(f"{k}: {v}" for k, v in sorted(outcomes.items())))


if __name__ == "__main__":
    main()
