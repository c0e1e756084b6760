"""Email-change fixtures: the real stack (gateway + both products as processes) and a person
with a Console user linked to a user in each product."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import people
from tests.support.linked_person import Person, make_person
from tests.support.stack import Stack, running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Retry loops ask for one address many times: lift the per-recipient mail cap (tested in
    # tests/console/test_signup_and_mail_budgets.py).
    with running_stack(str(tmp_path_factory.mktemp("stack")),
                       EMAIL_CHANGE_STALE_SECONDS="3", MAIL_PER_HOUR="100") as running:
        yield running


@pytest.fixture
def person(stack: Stack) -> Person:
    return make_person(stack)


@pytest.fixture(autouse=True)
def _no_faults_left(stack: Stack) -> Iterator[None]:
    yield
    for product in ("segment", "sendgrid"):
        if product not in stack.processes:
            stack.start(product)
        people.set_faults(stack, product, [])
