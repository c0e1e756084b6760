"""Segment's session history says, in words, how the person signed in to the gateway: the
assertion's ``amr`` (issue 15: a passkey shows as one)."""

from __future__ import annotations

import pytest

from product_stubs.kit.identity import describe_methods
from tests.support.product_apps import Helper


@pytest.mark.parametrize(
    ("amr", "words"),
    [
        (("hwk", "user", "mfa"), "unified login: passkey"),
        (("swk", "user", "mfa"), "unified login: passkey"),
        (("pwd", "hwk", "user", "mfa"), "unified login: password + passkey"),
        (("pwd", "otp"), "unified login: password + code"),
        (("pwd", "recovery"), "unified login: password + recovery code"),
        (("pwd", "device"), "unified login: password + remembered device"),
        ((), "unified login"),
    ],
)
def test_methods_in_words(amr: tuple[str, ...], words: str) -> None:
    assert describe_methods(amr) == words


def test_history_shows_a_passkey_sign_in(h: Helper) -> None:
    if h.product != "segment":
        pytest.skip("only Segment keeps a session history")
    user_id, console = h.linked_user()
    gateway = h.app.test_client()
    gateway.get("/", headers=h.assertion(user_id, console, "/", session_id="gw-passkey",
                                         amr=("hwk", "user", "mfa")))
    gateway.get("/", headers=h.assertion(user_id, console, "/", session_id="gw-password",
                                         amr=("pwd", "hwk", "user", "mfa")))
    history = gateway.get(
        "/settings/sessions",
        headers=h.assertion(user_id, console, "/settings/sessions", session_id="gw-password"),
    ).get_data(as_text=True)
    assert ">unified login: passkey<" in history
    assert ">unified login: password + passkey<" in history
