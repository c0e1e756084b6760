"""Forgot-password answer time for an address with an account and one without (issue 12).

The tests prove equal work (same SQL statements, one mail each); this prints what a client
would time: median and p90 of ``POST /forgot-password`` in process (Flask test client, SQLite
in a temporary folder, production password hashing), interleaving the two kinds so drift hits
both alike. Run: ``.venv/bin/python bench/reset_timing.py [rounds]``.
"""

from __future__ import annotations

import os
import re
import statistics
import sys
import tempfile
import time

from sqlalchemy import create_engine

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from config.gateway import GatewayTestSwitches  # noqa: E402
from gateway import create_app  # noqa: E402
from gateway.db import Base, new_session  # noqa: E402
from gateway.identity.passwords import hash_password  # noqa: E402
from gateway.models import User, utcnow  # noqa: E402

_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def main(rounds: int) -> None:
    folder = tempfile.mkdtemp()
    url = f"sqlite:///{folder}/bench.db"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()
    app = create_app({
        "APP_ENV": "test", "DATABASE_URL": url, "SECRET_KEY": "bench-" + "x" * 40,
        "ASSERTION_KEY_DIR": os.path.join(folder, "keys"),
        # Lift the limits: every request does its full work (none is cut short by a throttle).
        "SIGNUP_MAX_PER_IP": 10**9, "RESET_MAX_PER_ADDRESS": 10**9, "MAIL_PER_HOUR": 10**9,
    }, GatewayTestSwitches(background_work=False))
    with app.app_context(), new_session() as session:
        session.add(User(email="known@example.com", password_hash=hash_password("x" * 20),
                         email_verified_at=utcnow()))
        session.commit()
    client = app.test_client()
    token = _CSRF.search(client.get("/forgot-password").get_data(as_text=True))
    assert token
    times: dict[str, list[float]] = {"known": [], "unknown": []}
    for i in range(rounds + 20):
        for kind in ("known", "unknown") if i % 2 else ("unknown", "known"):
            started = time.perf_counter()
            response = client.post("/forgot-password", data={
                "email": f"{kind}@example.com", "csrf_token": token.group(1)})
            elapsed = time.perf_counter() - started
            assert response.status_code == 200
            if i >= 20:  # warm-up rounds left out
                times[kind].append(elapsed * 1000)
    for kind, values in times.items():
        values.sort()
        p90 = values[int(len(values) * 0.9)]
        print(f"{kind:8} n={len(values)} median={statistics.median(values):.2f} ms "
              f"p90={p90:.2f} ms")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
