"""Asking for a new email address in the Console: what the answer may tell about other
accounts, and who gets an address two people are confirming (products: tests/products/
propagation)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from werkzeug.test import TestResponse

from tests.support import races
from tests.support.console import PASSWORD, Actions, make_gateway_app

IN_USE = "This email address is already in use."
STRANGER_PASSWORD = "the stranger's own passphrase"


@pytest.fixture
def app(database_url: str) -> Flask:
    return make_gateway_app(database_url, EMAIL_CHANGE_MAX_PER_HOUR=3)


def ask(actions: Actions, email: str) -> TestResponse:
    return actions.post("/settings/email", email=email)


def sign_up_pending(app: Flask, email: str) -> tuple[Actions, str]:
    """A stranger signs up ``email`` and has not confirmed it yet; returns the link."""
    stranger = Actions(app, app.test_client())
    assert stranger.post("/signup", email=email, password=STRANGER_PASSWORD).status_code == 200
    return stranger, stranger.mailed_link(email)


def confirm_signup(stranger: Actions, link: str) -> TestResponse:
    """The stranger confirms from another browser of theirs (with the sign-up's password)."""
    token = link.split("token=", 1)[1]
    other_browser = Actions(stranger.app, stranger.app.test_client())
    return other_browser.post("/verify-email", form_path=link, token=token,
                              password=STRANGER_PASSWORD)


def confirm_change(actions: Actions, email: str) -> TestResponse:
    link = actions.mailed_link(email)
    return actions.post("/settings/email/confirm", form_path=link,
                        token=link.split("token=", 1)[1])


def test_address_probing_is_throttled_per_account(app: Flask, actions: Actions) -> None:
    """Account enumeration: a signed-in account cannot test address after address."""
    actions.create_user()
    actions.create_user("taken@example.com")
    actions.sign_in()
    answers = [ask(actions, f"probe{i}@example.com").status_code for i in range(2)]
    answers.append(ask(actions, "taken@example.com").status_code)
    assert answers == [200, 200, 409]
    other_browser = Actions(app, app.test_client())
    other_browser.sign_in()
    blocked = ask(other_browser, "taken@example.com")
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    assert IN_USE not in blocked.get_data(as_text=True)
    assert ask(other_browser, "free@example.com").status_code == 429


def test_unconfirmed_signup_address_answers_as_free(app: Flask, actions: Actions) -> None:
    """Account enumeration: a pending sign-up is not an account; its address is free."""
    actions.create_user()
    sign_up_pending(app, "pending@example.com")
    actions.sign_in()
    assert ask(actions, "pending@example.com").status_code == 200


def test_email_change_confirmed_first_wins_over_a_pending_signup(
    app: Flask, actions: Actions
) -> None:
    actions.create_user()
    stranger, link = sign_up_pending(app, "pending@example.com")
    actions.sign_in()
    ask(actions, "pending@example.com")
    assert confirm_change(actions, "pending@example.com").status_code == 200
    assert actions.user("pending@example.com").email_verified_at is not None
    late = confirm_signup(stranger, link)
    assert late.status_code == 400
    assert "confirmed by another account first" in late.get_data(as_text=True)
    fresh = Actions(app, app.test_client())
    assert fresh.sign_in("pending@example.com", STRANGER_PASSWORD).status_code == 401
    assert fresh.sign_in("pending@example.com", PASSWORD).status_code == 302


def test_email_change_confirmed_while_the_signup_confirms_wins(
    app: Flask, actions: Actions
) -> None:
    """The sign-up passed every check of its link when the email change took the address."""
    actions.create_user()
    stranger, link = sign_up_pending(app, "pending@example.com")
    actions.sign_in()
    ask(actions, "pending@example.com")
    changed, late = races.after_the_check(
        app, "INSERT INTO used_tokens",
        lambda: confirm_change(actions, "pending@example.com"),
        lambda: confirm_signup(stranger, link),
    )
    assert changed.status_code == 200
    assert late.status_code == 400
    assert "confirmed by another account first" in late.get_data(as_text=True)
    assert actions.user("pending@example.com").email_verified_at is not None


def test_signup_confirmed_first_wins_over_an_email_change(app: Flask, actions: Actions) -> None:
    actions.create_user()
    stranger, link = sign_up_pending(app, "pending@example.com")
    actions.sign_in()
    ask(actions, "pending@example.com")
    assert confirm_signup(stranger, link).status_code == 200
    late = confirm_change(actions, "pending@example.com")
    assert late.status_code == 409 and IN_USE in late.get_data(as_text=True)
    assert actions.user("user@example.com").email == "user@example.com"
    assert Actions(app, app.test_client()).sign_in(
        "pending@example.com", STRANGER_PASSWORD).status_code == 302


def test_address_in_use_is_marked_at_the_field(actions: Actions) -> None:
    """The conflict is about the address typed: said at that field (marked invalid, linked
    from the error summary), the address kept for correcting, as sign-up does."""
    actions.create_user()
    actions.create_user("taken@example.com")
    actions.sign_in()
    response = ask(actions, "taken@example.com")
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="email"[^>]*value="taken@example.com"',
                     page)
    assert f'id="email-error">{IN_USE}' in page
    assert f'<a href="#email">New email address: {IN_USE}</a>' in page
