"""A product's own pages never tell whether an address has an account: the login costs one
password-hash check either way, and sign-up answers alike (issue 10's attack run).
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask

from tests.support.product_apps import Helper


class _CountingHasher:
    """Wraps the argon2 hasher of a product and counts ``verify`` calls."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.verifies = 0

    def verify(self, stored: str, password: str) -> bool:
        self.verifies += 1
        return bool(self.inner.verify(stored, password))

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def _count_verifies(app: Flask, monkeypatch: pytest.MonkeyPatch) -> _CountingHasher:
    passwords = app.extensions["product_passwords"]
    counter = _CountingHasher(passwords._hasher)
    monkeypatch.setattr(passwords, "_hasher", counter)
    return counter


@pytest.mark.cwe(208)
def test_login_costs_one_hash_check_for_known_and_unknown_emails(
    h: Helper, monkeypatch: pytest.MonkeyPatch
) -> None:
    counter = _count_verifies(h.app, monkeypatch)
    email, password = h.password_user
    cases = [
        (email, "a wrong password here", 200),
        ("nobody-at-all@example.com", "a wrong password here", 200),
        (email, password, 302),
    ]
    for address, attempt, status in cases:
        counter.verifies = 0
        response = h.sign_in(address, attempt, h.app.test_client())
        assert response.status_code == status
        assert counter.verifies == 1, address


@pytest.mark.cwe(287)
def test_signup_answers_alike_for_taken_addresses(h: Helper) -> None:
    email, _ = h.password_user
    taken = h.client.post("/signup", data={"email": email})
    new = h.client.post("/signup", data={"email": "fresh@example.com"})
    assert taken.status_code == new.status_code == 200
    strip = lambda r: r.get_data(as_text=True).replace(email, "X").replace("fresh@example.com", "X")  # noqa: E731
    assert strip(taken) == strip(new)
    assert "already" in h.mails(email)[-1].body
    assert "/signup/confirm/" not in h.mails(email)[-1].body
