"""``@pytest.mark.exclusive``: a test that must not overlap any other test, for the few that act
on the machine itself (the PostgreSQL server restarted under load stops every connection of
every other test).

Under pytest-xdist (and when CI runs the SQLite and the PostgreSQL pass side by side) tests run
in several processes; this is a readers-writer lock across them, made of two ``flock`` files in
the repository (shared by every worker and pass of a checkout): each test holds the lock shared
while it runs (setup, call, teardown), an exclusive test holds it alone. An exclusive test first
takes the turnstile, so that no new test starts while it waits for the running ones to finish
(``flock`` alone lets a stream of readers starve a writer).

A serial run takes the same locks (uncontended: microseconds per test).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCK = os.path.join(ROOT, ".pytest-exclusive.lock")
TURNSTILE = os.path.join(ROOT, ".pytest-exclusive.turnstile")

_files: dict[str, IO[bytes]] = {}


def _file(path: str) -> IO[bytes]:
    if path not in _files:
        _files[path] = open(path, "ab")  # noqa: SIM115 (kept open for the session)
    return _files[path]


@contextmanager
def holding(exclusive: bool) -> Iterator[None]:
    """Hold the lock for one test: alone when ``exclusive``, shared with the others if not."""
    lock, turnstile = _file(LOCK).fileno(), _file(TURNSTILE).fileno()
    fcntl.flock(turnstile, fcntl.LOCK_EX)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
    finally:
        fcntl.flock(turnstile, fcntl.LOCK_UN)
    try:
        yield
    finally:
        fcntl.flock(lock, fcntl.LOCK_UN)
