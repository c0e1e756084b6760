"""Email-change fixtures: the real stack (gateway + both products as processes) and a person
with a Console user linked to a user in each product."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests

from tests.support import people
from tests.support.stack import Stack, running_stack

PASSWORD = "an email change passphrase"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Retry loops ask for one address many times: lift the per-recipient mail cap (tested in
    # tests/security/test_attack_run_accounts.py).
    with running_stack(str(tmp_path_factory.mktemp("stack")),
                       EMAIL_CHANGE_STALE_SECONDS="3", MAIL_PER_HOUR="100") as running:
        yield running


@dataclass
class Person:
    stack: Stack
    console_id: str
    email: str
    product_ids: dict[str, str]
    session: requests.Session

    def ask_for(self, new_email: str) -> requests.Response:
        url = self.stack.gateway_url + "/settings/email"
        return people.submit(self.session, url, email=new_email)

    def confirm(self, new_email: str) -> requests.Response:
        link = people.last_link(self.stack, new_email, "/settings/email/confirm")
        token = link.split("token=", 1)[1]
        return people.submit(self.session, link.split("?")[0], form_url=link, token=token)

    def emails(self) -> dict[str, str]:
        """Where every part of the system stands: the Console and each linked product."""
        found = {"console": people.console_email(self.stack, self.console_id)}
        for product, product_user_id in self.product_ids.items():
            found[product] = people.product_email(self.stack, product, product_user_id)
        return found


def unique_email(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:8]}@example.com"


def make_person(stack: Stack, label: str = "person") -> Person:
    email = unique_email(label)
    console_id = people.create_console_user(stack, email, PASSWORD)
    product_ids = {
        product: people.create_linked_product_user(stack, product, email, console_id)
        for product in ("segment", "sendgrid")
    }
    session = people.login(stack, email, PASSWORD)
    return Person(stack, console_id, email, product_ids, session)


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
