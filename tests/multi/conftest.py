"""Two gateway instances under gunicorn on one database, as behind a load balancer.

On PostgreSQL (TEST_DATABASE_URL, as in CI) both instances share a fresh database; without it
they share one SQLite file, which SQLite's WAL mode and busy timeout handle for these
sequential journeys (the deployment guide still says PostgreSQL for several instances).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, running_stack

#: Seconds a proxied session check may be cached per worker (config SESSION_CACHE_SECONDS).
CACHE_SECONDS = 2
MAX_FAILURES = 4


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(
        str(tmp_path_factory.mktemp("multi")),
        server="gunicorn",
        gateways=2,
        SESSION_CACHE_SECONDS=str(CACHE_SECONDS),
        LOGIN_MAX_FAILURES=str(MAX_FAILURES),
        IP_MAX_ATTEMPTS="1000",  # every test comes from 127.0.0.1; accounts are what we count
    ) as running:
        yield running
