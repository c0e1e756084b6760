"""A person on the running stack with a Console user linked to a user in each product, who asks
for and confirms email changes over real HTTP (the propagation suites)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import requests

from tests.support import people
from tests.support.stack import Stack

PASSWORD = "an email change passphrase"


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
        link = people.mailed_link(self.stack, new_email, "/settings/email/confirm")
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
    session = people.sign_in(stack, email, PASSWORD)
    return Person(stack, console_id, email, product_ids, session)
