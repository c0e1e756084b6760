"""Several gateway instances on one database behave as one gateway.

Documented bound: a revoked session (logout, sign out everywhere, password change) is refused
at once on Console pages of every instance (each request reads the session row), and on proxied
product pages within ``SESSION_CACHE_SECONDS`` (default 2 s), the per-worker cache of the
session check (``gateway/identity/sessions.py``). Throttling counters are rows in the same
database, so failures spread over instances add up.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import bindparam, create_engine, text
from sqlalchemy.pool import NullPool

from tests.support.csrf import csrf_from
from tests.support.person import Person, browser
from tests.support.stack import Stack, running_stack

pytestmark = pytest.mark.e2e

PASSWORD = "a passphrase for two instances"
#: Seconds a proxied session check may be cached per worker (config SESSION_CACHE_SECONDS).
CACHE_SECONDS = 2
MAX_FAILURES = 4
#: Time for one request on a loaded CI machine, added to the documented bound.
SLACK = 1.5


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Two gateway instances under gunicorn on one database, as behind a load balancer.

    On PostgreSQL (TEST_DATABASE_URL, as in CI) both share a fresh database; without it they
    share one SQLite file, which WAL mode and the busy timeout handle for these sequential
    journeys (the deployment guide still says PostgreSQL for several instances).
    """
    with running_stack(
        str(tmp_path_factory.mktemp("multi")),
        server="gunicorn",
        gateways=2,
        SESSION_CACHE_SECONDS=str(CACHE_SECONDS),
        LOGIN_MAX_FAILURES=str(MAX_FAILURES),
        IP_MAX_ATTEMPTS="1000",  # every test comes from 127.0.0.1; accounts are what we count
        # Nor may the per-address body bound (2 per process) turn the racing sign-ins of three
        # people, all from 127.0.0.1, into 503s when a busy machine makes the reads overlap.
        REQUEST_BODY_PER_CLIENT="16",
    ) as running:
        yield running


def person(stack: Stack, linked: bool = True) -> Person:
    someone = Person(stack.gateway_urls[0], f"multi-{uuid.uuid4().hex[:10]}@example.com", PASSWORD)
    someone.sign_up_and_verify()
    if linked:
        someone.create_product_user("segment")
    return someone


def cookie_copy(someone: Person, base: str) -> Person:
    """Another client holding the same session cookie (a second tab, or a stolen cookie)."""
    other = Person(base, someone.email, someone.password)
    other.http.cookies.update(someone.http.cookies)
    return other


def proxied_ok(someone: Person) -> bool:
    answer = someone.get("/segment/settings", headers={"Accept": "text/html"})
    if answer.status_code == 200:
        assert someone.email in answer.text
        return True
    assert answer.status_code == 302 and urlsplit(answer.headers["Location"]).path == "/login"
    return False


def seconds_until_refused(someone: Person) -> float:
    started = time.monotonic()
    while proxied_ok(someone):
        assert time.monotonic() - started < CACHE_SECONDS + SLACK, "revocation never took effect"
        time.sleep(0.05)
    return time.monotonic() - started


def test_a_session_opened_on_one_instance_works_on_the_other(stack: Stack) -> None:
    first, second = stack.gateway_urls
    someone = person(stack)
    assert proxied_ok(someone)
    someone.base = second
    assert someone.signed_in()
    assert proxied_ok(someone)
    assert someone.get("/").text.count(someone.email) >= 1


def test_logout_on_one_instance_is_refused_on_the_other_within_the_bound(stack: Stack) -> None:
    first, second = stack.gateway_urls
    someone = person(stack)
    elsewhere = cookie_copy(someone, second)
    for _ in range(4):  # warm the session-check cache of the second instance's workers
        assert proxied_ok(elsewhere)
    assert someone.sign_out().status_code == 302
    assert not elsewhere.signed_in(), "Console pages must refuse a revoked session at once"
    assert seconds_until_refused(elsewhere) <= CACHE_SECONDS + SLACK
    time.sleep(CACHE_SECONDS + 0.5)  # and it stays refused on every worker once the bound passed
    assert not any(proxied_ok(elsewhere) for _ in range(6))


def test_password_change_on_one_instance_ends_other_sessions_on_the_other(stack: Stack) -> None:
    first, second = stack.gateway_urls
    someone = person(stack)
    laptop = Person(second, someone.email, PASSWORD)
    assert laptop.sign_in().status_code == 302
    assert proxied_ok(laptop)
    someone.change_password("a brand new passphrase here")
    assert not laptop.signed_in()
    assert seconds_until_refused(laptop) <= CACHE_SECONDS + SLACK
    # The browser that changed it keeps its session, on both instances.
    assert someone.signed_in() and proxied_ok(someone)
    someone.base = second
    assert someone.signed_in() and proxied_ok(someone)
    # The old password is refused everywhere, the new one works everywhere.
    assert Person(first, someone.email, PASSWORD).sign_in().status_code == 401
    assert Person(second, someone.email, someone.password).sign_in().status_code == 302


def test_sign_out_everywhere_on_one_instance_reaches_the_other(stack: Stack) -> None:
    first, second = stack.gateway_urls
    someone = person(stack)
    phone = Person(second, someone.email, PASSWORD)
    assert phone.sign_in().status_code == 302 and proxied_ok(phone)
    answer = someone.post_form("/settings/sessions", "/settings/sessions/revoke-all", {})
    assert answer.status_code == 302
    assert not phone.signed_in()
    assert seconds_until_refused(phone) <= CACHE_SECONDS + SLACK


def test_failed_logins_split_between_instances_lock_the_account(stack: Stack) -> None:
    someone = person(stack, linked=False)
    for attempt in range(MAX_FAILURES):
        someone.base = stack.gateway_urls[attempt % 2]
        answer = Person(someone.base, someone.email, PASSWORD).sign_in("not the password at all")
        assert answer.status_code == 401, (attempt, answer.status_code)
    for base in stack.gateway_urls:  # locked on both, even with the right password
        answer = Person(base, someone.email, PASSWORD).sign_in()
        assert answer.status_code == 429
        assert int(answer.headers["Retry-After"]) > 0


def test_concurrent_failures_on_both_instances_are_all_counted(stack: Stack) -> None:
    """No lost update: failures racing on two instances each add one (row lock; on SQLite the
    write lock taken before the read)."""
    people = [person(stack, linked=False) for _ in range(3)]
    barrier = threading.Barrier(len(people) * (MAX_FAILURES - 1))
    statuses: list[int] = []

    def fail(someone: Person, base: str) -> None:
        attempt = Person(base, someone.email, PASSWORD)
        page = attempt.get("/login").text
        barrier.wait(timeout=20)
        answer = attempt.http.post(
            base + "/login", allow_redirects=False, timeout=15,
            data={"csrf_token": csrf_from(page), "email": someone.email, "password": "wrong" * 4},
        )
        statuses.append(answer.status_code)

    threads = [
        threading.Thread(target=fail, args=(someone, stack.gateway_urls[i % 2]))
        for someone in people
        for i in range(MAX_FAILURES - 1)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert statuses == [401] * len(threads)
    engine = create_engine(stack.database_urls["gateway"], poolclass=NullPool)
    with engine.connect() as connection:
        counts = connection.execute(
            text("SELECT key, count FROM throttle_buckets WHERE key IN :keys")
            .bindparams(bindparam("keys", expanding=True)),
            {"keys": [f"acct:{someone.email}" for someone in people]},
        ).all()
    engine.dispose()
    assert sorted(count for _, count in counts) == [MAX_FAILURES - 1] * len(people)
    for someone in people:  # one more failure anywhere locks each of them
        assert Person(stack.gateway_urls[1], someone.email, PASSWORD).sign_in("x" * 20
                                                                            ).status_code == 401
        assert Person(stack.gateway_urls[0], someone.email, PASSWORD).sign_in().status_code == 429


def test_failures_below_the_limit_do_not_lock_and_success_resets_them(stack: Stack) -> None:
    someone = person(stack, linked=False)
    for attempt in range(MAX_FAILURES - 1):
        base = stack.gateway_urls[attempt % 2]
        assert Person(base, someone.email, PASSWORD).sign_in("wrong wrong wrong").status_code == 401
    assert Person(stack.gateway_urls[1], someone.email, PASSWORD).sign_in().status_code == 302
    for attempt in range(MAX_FAILURES - 1):  # the count started again from zero
        base = stack.gateway_urls[attempt % 2]
        assert Person(base, someone.email, PASSWORD).sign_in("wrong wrong wrong").status_code == 401
    assert Person(stack.gateway_urls[0], someone.email, PASSWORD).sign_in().status_code == 302


def test_restarting_every_process_loses_no_session_and_no_pending_email_change(
    stack: Stack,
) -> None:
    first, second = stack.gateway_urls
    someone = person(stack)
    other = person(stack, linked=False)
    new_email = f"moved-{uuid.uuid4().hex[:8]}@example.com"
    someone.reauthenticate()
    answer = someone.post_form("/settings/email", "/settings/email", {"email": new_email})
    assert answer.status_code == 200, answer.text[:500]

    stack.restart_all()

    for client, base in ((someone, second), (other, first), (other, second)):
        client.base = base
        assert client.signed_in()
    assert proxied_ok(someone)
    # The confirmation link mailed before the restart still applies the change, on any instance.
    link = someone.mailed_link("/settings/email/confirm", to=new_email)
    link = second + link.removeprefix(first)
    page = someone.http.get(link, timeout=15)
    assert page.status_code == 200
    token = page.text.split('name="token" value="', 1)[1].split('"', 1)[0]
    applied = someone.post_form(
        link.removeprefix(second), "/settings/email/confirm", {"token": token}
    )
    assert applied.status_code == 200, applied.text[:500]
    someone.email = new_email
    assert new_email in someone.get("/settings").text
    found = stack.scim("segment").get(
        stack.url("segment") + "/scim/v2/Users",
        params={"filter": f'userName eq "{new_email}"'}, timeout=10,
    ).json()
    assert found["totalResults"] == 1


def test_health_of_both_instances(stack: Stack) -> None:
    for base in stack.gateway_urls:
        assert requests.get(base + "/readyz", timeout=5).json()["status"] == "ready"
        assert browser().get(base + "/healthz", timeout=5).json() == {"status": "ok"}
