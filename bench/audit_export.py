"""Memory of the audit export: 100 000 rows streamed as CSV and as JSON Lines, through the real
route (``POST /admin/audit/export``, an owner's session, CSRF), against loading the table whole.

    .venv/bin/python bench/audit_export.py [--rows 100000] [--database-url postgresql+psycopg://…]

Fills a throw-away database (SQLite in a temporary folder unless ``--database-url`` names an
empty PostgreSQL database), then for each format reads the streamed answer chunk by chunk and
reports rows, megabytes, seconds and the peak of Python allocations (``tracemalloc``) while
it streamed; last, the peak of ``select(AuditEvent)`` loaded into a list, which is what the
export must not do. The export holds one batch (``audit_log.BATCH`` rows) at a time.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import sys
import tempfile
import time
import tracemalloc
from datetime import timedelta

from sqlalchemy import create_engine, insert, select

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from gateway import create_app  # noqa: E402
from gateway.db import Base, new_session  # noqa: E402
from gateway.models import AuditEvent, LoginSession, User, utcnow  # noqa: E402

MIB = 1024 * 1024


def fill(url: str, rows: int, owner_id: str) -> None:
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    start = utcnow() - timedelta(days=30)
    with engine.begin() as connection:
        connection.execute(insert(User).values(
            id=owner_id, email="owner@example.com", password_hash="x", email_verified_at=start,
            created_at=start, password_changed_at=start, totp_secret="A" * 32,
            totp_enabled_at=start, role="owner", plan="trial", session_epoch=0,
            must_enrol_2fa=False))
        batch = []
        for n in range(rows):
            batch.append({
                "user_id": owner_id, "event": "login", "ip_address": "203.0.113.7",
                "created_at": start + timedelta(seconds=n * 25),
                "detail": '{"device": "Firefox 120 on Linux", "methods": ["pwd", "otp"]}',
            })
            if len(batch) == 5000:
                connection.execute(insert(AuditEvent), batch)
                batch = []
        if batch:
            connection.execute(insert(AuditEvent), batch)
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    url = args.database_url or f"sqlite:///{folder}/bench.db"
    owner_id = secrets.token_hex(16)
    fill(url, args.rows, owner_id)
    app = create_app({"APP_ENV": "test", "DATABASE_URL": url,
                      "SECRET_KEY": "bench-secret-key-0123456789abcdef",
                      "ASSERTION_KEY_DIR": os.path.join(folder, "keys")})
    token = secrets.token_urlsafe(32)
    with app.app_context(), new_session() as session:
        session.add(LoginSession(id=hashlib.sha256(token.encode()).hexdigest(),
                                 user_id=owner_id))
        session.commit()
    client = app.test_client()
    with client.session_transaction() as cookie:
        cookie["sid"] = token
    page = client.get("/admin/audit").get_data(as_text=True)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, page[:500]
    print(f"{args.rows} audit rows, {app.config['DATABASE_URL'].split(':')[0]}")
    for fmt in ("csv", "jsonl"):
        tracemalloc.start()
        began = time.perf_counter()
        answer = client.post("/admin/audit/export", data={"csrf_token": match.group(1),
                                                          "format": fmt}, buffered=False)
        size = lines = 0
        for chunk in answer.response:
            size += len(chunk)
            lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        answer.close()
        seconds = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert answer.status_code == 200, answer.status_code
        print(f"  export {fmt:5}: {lines} lines, {size / MIB:.1f} MiB in {seconds:.1f} s, "
              f"peak Python allocations {peak / MIB:.1f} MiB")
    with app.app_context(), new_session() as session:
        tracemalloc.start()
        everything = list(session.scalars(select(AuditEvent)))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  whole table loaded ({len(everything)} rows): peak {peak / MIB:.1f} MiB")


if __name__ == "__main__":
    main()
