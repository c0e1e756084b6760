"""Bounded soak: mixed traffic at a fixed rate through the gateway under gunicorn, on loopback.

    .venv/bin/python bench/soak.py [--duration 150] [--rate 20] [--count N] [--postgres URL]

Starts the whole stack (``tests/support/stack.py``: gateway under gunicorn with
``config/gunicorn_gateway.py``, both products), signs up and links a few people over HTTP, then
sends requests at a fixed rate (open loop: a request is due every 1/rate s whether or not the
last one finished) until ``--count`` requests were sent or ``--duration`` seconds passed,
whichever comes first; it stops by itself. The mix: logins (GET + POST /login, some followed by
a logout, a few with a wrong password), proxied product pages (Segment and SendGrid), Console
pages (home, settings, sessions) and /readyz.

Checks (exit status 1 if one fails):
- no 5xx answer and no transport error;
- per gunicorn worker, RSS (``/proc/<pid>/status``) grows by at most ``--rss-bound`` MiB between
  the end of the warm-up (first 20% of the run) and the end; no worker restarted;
- no leaked database connection: after the run, with the load stopped, the gateway holds no
  connection "idle in transaction" and at most workers x pool_size (5) connections
  (``pg_stat_activity`` on PostgreSQL; on SQLite, open file descriptors on the database file).

PostgreSQL when ``--postgres`` (or TEST_DATABASE_URL) is given: a fresh database is created and
dropped. It is a benchmark, not a CI test.
"""

from __future__ import annotations

import argparse
import os
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.pool import NullPool  # noqa: E402

from bench.procfs import children  # noqa: E402
from tests.support.person import Person  # noqa: E402
from tests.support.stack import Stack, running_stack  # noqa: E402

PASSWORD = "a passphrase for the soak test"
POOL_SIZE = 5  # gateway/db.py: pool_size per worker process
#: (kind, weight): the traffic mix.
MIX = [
    ("login", 10),
    ("login_logout", 4),
    ("login_wrong_password", 2),
    ("proxied_segment", 30),
    ("proxied_sendgrid", 14),
    ("console_home", 12),
    ("console_settings", 14),
    ("console_sessions", 8),
    ("readyz", 6),
]


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    late: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, status: int, seconds: float) -> None:
        with self.lock:
            self.latencies[kind].append(seconds)
            self.statuses[(kind, status)] += 1


# --- the gateway's processes -----------------------------------------------------------------


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sqlite_handles(pids: list[int], path: str) -> int:
    count = 0
    for pid in pids:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == path:
                    count += 1
            except OSError:
                pass
    return count


def database_connections(stack: Stack, workers: list[int]) -> dict[str, int]:
    url = stack.database_urls["gateway"]
    if url.startswith("sqlite"):
        path = os.path.realpath(url.removeprefix("sqlite:///"))
        return {"total": sqlite_handles(workers, path), "idle in transaction": 0}
    name = make_url(url).database
    admin = create_engine(url, poolclass=NullPool)
    try:
        with admin.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT state, count(*) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid() GROUP BY state"
                ),
                {"name": name},
            ).all()
    finally:
        admin.dispose()
    states = {str(state): int(count) for state, count in rows}
    return {"total": sum(states.values()), "idle in transaction": states.get(
        "idle in transaction", 0) + states.get("idle in transaction (aborted)", 0)}


# --- the traffic -----------------------------------------------------------------------------


def make_people(stack: Stack, count: int) -> list[Person]:
    people = []
    for index in range(count):
        someone = Person(stack.gateway_url, f"soak-{index}-{uuid.uuid4().hex[:6]}@example.com",
                         PASSWORD)
        someone.sign_up_and_log_in()
        someone.create_product_user("segment")
        someone.create_product_user("sendgrid")
        people.append(someone)
    return people


def one_request(kind: str, someone: Person, stats: Stats) -> None:
    started = time.perf_counter()
    try:
        if kind.startswith("login"):
            fresh = Person(someone.base, someone.email, someone.password)
            wrong = kind == "login_wrong_password"
            answer = fresh.log_in("not the right passphrase" if wrong else None)
            if kind == "login_logout" and answer.status_code == 302:
                stats.record("logout", fresh.log_out().status_code, 0.0)
        elif kind == "proxied_segment":
            answer = someone.get(random.choice(["/segment/settings", "/segment/"]))
        elif kind == "proxied_sendgrid":
            answer = someone.get(random.choice(["/sendgrid/settings", "/sendgrid/"]))
        elif kind == "console_home":
            answer = someone.get("/")
        elif kind == "console_settings":
            answer = someone.get("/settings")
        elif kind == "console_sessions":
            answer = someone.get("/settings/sessions")
        else:
            answer = requests.get(someone.base + "/readyz", timeout=15)
        status = answer.status_code
    except requests.RequestException as exc:
        with stats.lock:
            stats.errors.append(f"{kind}: {exc.__class__.__name__}")
        return
    stats.record(kind, status, time.perf_counter() - started)


def run_load(people: list[Person], rate: float, count: int, duration: float, threads: int,
             stats: Stats, on_tick) -> int:  # type: ignore[no-untyped-def]
    """Send ``count`` requests at ``rate``/s (or stop after ``duration`` s); returns how many."""
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    free: queue.Queue[Person] = queue.Queue()
    for someone in people:
        free.put(someone)
    jobs: queue.Queue[tuple[str, float] | None] = queue.Queue()

    def worker() -> None:
        while (job := jobs.get()) is not None:
            kind, due = job
            with stats.lock:
                stats.late.append(max(0.0, time.monotonic() - due))
            someone = free.get()
            try:
                one_request(kind, someone, stats)
            finally:
                free.put(someone)

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    start = time.monotonic()
    sent = 0
    while sent < count:
        due = start + sent / rate
        now = time.monotonic()
        if due - start > duration:
            break
        if due > now:
            time.sleep(due - now)
        jobs.put((random.choice(kinds), due))
        sent += 1
        on_tick(time.monotonic() - start)
    for _ in pool:
        jobs.put(None)
    for thread in pool:
        thread.join(timeout=60)
    return sent


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=150, help="seconds of load (cap)")
    parser.add_argument("--rate", type=float, default=20, help="requests per second")
    parser.add_argument("--count", type=int, default=0, help="requests (default rate*duration)")
    parser.add_argument("--people", type=int, default=12)
    parser.add_argument("--threads", type=int, default=12, help="client threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--rss-bound", type=float, default=15.0, help="MiB growth per worker")
    parser.add_argument("--postgres", default=os.environ.get("TEST_DATABASE_URL", ""))
    args = parser.parse_args()
    count = args.count or int(args.rate * args.duration)
    if args.postgres:
        os.environ["TEST_DATABASE_URL"] = args.postgres
    else:
        os.environ.pop("TEST_DATABASE_URL", None)
    random.seed(7)

    workdir = tempfile.mkdtemp(prefix="soak-")
    with running_stack(
        workdir, server="gunicorn", WEB_CONCURRENCY=str(args.workers),
        IP_MAX_ATTEMPTS="100000", LOGIN_MAX_FAILURES="1000000",
    ) as stack:
        database = "PostgreSQL" if args.postgres else "SQLite"
        print(f"stack up ({database}), gateway {stack.gateway_url}, workdir {workdir}")
        master = stack.processes["gateway"].pid
        people = make_people(stack, args.people)
        workers = children(master)
        print(f"{len(people)} people signed up and linked; gunicorn workers {workers}")
        before = database_connections(stack, workers)
        samples: list[tuple[float, dict[int, float]]] = []
        next_sample = [0.0]

        def on_tick(elapsed: float) -> None:
            if elapsed >= next_sample[0]:
                samples.append((elapsed, {pid: rss_mib(pid) for pid in children(master)}))
                next_sample[0] = elapsed + 5

        stats = Stats()
        started = time.monotonic()
        sent = run_load(people, args.rate, count, args.duration, args.threads, stats, on_tick)
        elapsed = time.monotonic() - started
        samples.append((elapsed, {pid: rss_mib(pid) for pid in children(master)}))
        time.sleep(2)  # let the pools settle
        workers_after = children(master)
        after = database_connections(stack, workers_after)

    # --- report --------------------------------------------------------------------------
    answered = sum(n for (kind, _), n in stats.statuses.items() if kind != "logout")
    five_xx = sum(n for (_, status), n in stats.statuses.items() if status >= 500)
    print(f"\nsent {sent} requests in {elapsed:.0f} s (target rate {args.rate}/s, "
          f"achieved {sent / elapsed:.1f}/s); answered {answered}, transport errors "
          f"{len(stats.errors)}, 5xx {five_xx}")
    print(f"start lateness p50 {percentile(stats.late, .5) * 1000:.1f} ms, "
          f"p99 {percentile(stats.late, .99) * 1000:.1f} ms")
    print("\n| kind | n | statuses | p50 ms | p95 ms | p99 ms |\n|---|---:|---|---:|---:|---:|")
    for kind, _ in [*MIX, ("logout", 0)]:
        values = stats.latencies.get(kind, [])
        codes = {s: n for (k, s), n in sorted(stats.statuses.items()) if k == kind}
        if kind == "logout":
            print(f"| {kind} | {len(values)} | {codes} | - | - | - |")
            continue
        print(f"| {kind} | {len(values)} | {codes} | {percentile(values, .5) * 1000:.1f} | "
              f"{percentile(values, .95) * 1000:.1f} | {percentile(values, .99) * 1000:.1f} |")
    warm = next((s for s in samples if s[0] >= 0.2 * elapsed), samples[0])
    last = samples[-1]
    print("\nRSS per worker (MiB): first sample / after warm-up / end / growth after warm-up")
    growth_ok = True
    for pid in workers:
        first = samples[0][1].get(pid, 0.0)
        at_warm, at_end = warm[1].get(pid), last[1].get(pid)
        if at_warm is None or at_end is None:
            growth_ok = False
            print(f"  worker {pid}: gone (restarted)")
            continue
        growth = at_end - at_warm
        growth_ok &= growth <= args.rss_bound
        print(f"  worker {pid}: {first:.1f} / {at_warm:.1f} / {at_end:.1f} / {growth:+.1f}")
    series = " ".join(f"{t:.0f}s:{statistics.mean(v.values()):.1f}" for t, v in samples if v)
    print(f"  mean RSS over time: {series}")
    cap = len(workers_after) * POOL_SIZE
    print(f"\ndatabase connections before {before}, after {after} (cap {cap} when idle)")
    restarted = sorted(set(workers) ^ set(workers_after))
    checks = {
        "no 5xx and no transport error": five_xx == 0 and not stats.errors,
        f"RSS growth per worker <= {args.rss_bound} MiB after warm-up": growth_ok,
        "no worker restarted": not restarted,
        "no leaked database connection": after["idle in transaction"] == 0
        and after["total"] <= cap,
        "every request answered": answered + len(stats.errors) == sent,
    }
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if stats.errors:
        print("errors:", Counter(stats.errors).most_common(5))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
