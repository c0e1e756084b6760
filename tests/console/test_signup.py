"""Sign-up with NIST password rules and single-use, time-limited email verification."""

from __future__ import annotations

import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from tests.support import races
from tests.support.console import PASSWORD, Actions


def test_signup_sends_verification_and_account_waits_for_it(actions: Actions) -> None:
    response = actions.sign_up("  New.Person@Example.COM ")
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    user = actions.user("new.person@example.com")
    assert not user.is_verified
    # Not usable before verification, even with the right password.
    login = actions.sign_in("new.person@example.com")
    assert login.status_code == 403
    assert "Confirm your email first" in login.get_data(as_text=True)

    link = actions.mailed_link("new.person@example.com")
    phone = Actions(actions.app, actions.app.test_client())  # not the browser that signed up
    page = phone.client.get(link)
    assert page.status_code == 200 and "Confirm email address" in page.get_data(as_text=True)
    token = link.split("token=", 1)[1]
    wrong = phone.post("/verify-email", form_path=link, token=token, password="not the one")
    assert wrong.status_code == 400 and not actions.user("new.person@example.com").is_verified
    confirmed = phone.post("/verify-email", form_path=link, token=token, password=PASSWORD)
    assert confirmed.status_code == 200 and "is confirmed" in confirmed.get_data(as_text=True)
    assert actions.user("new.person@example.com").is_verified
    assert actions.sign_in("new.person@example.com").status_code == 302


def test_verification_link_is_single_use(actions: Actions) -> None:
    actions.sign_up("once@example.com")
    confirmed = actions.verify("once@example.com")
    assert confirmed.status_code == 302
    link = actions.mailed_link("once@example.com")
    again = actions.client.get(link)
    assert again.status_code == 400
    assert "already used" in again.get_data(as_text=True)


def test_verification_link_confirmed_twice_at_once_one_wins(actions: Actions) -> None:
    """Single-use race: two POSTs of one verification link spend it at the same moment."""
    actions.sign_up("race@example.com")
    link = actions.mailed_link("race@example.com")
    token = link.split("token=", 1)[1]
    browsers = [Actions(actions.app, actions.app.test_client()) for _ in range(2)]
    results = races.together(actions.app, "INSERT INTO used_tokens", *[
        lambda b=b: b.post("/verify-email", form_path=link, token=token, password=PASSWORD)
        for b in browsers
    ])
    assert sorted(r.status_code for r in results) == [200, 400]
    loser = next(r for r in results if r.status_code == 400).get_data(as_text=True)
    assert "This link was already used" in loser
    assert actions.sign_in("race@example.com").status_code == 302


def test_tampered_verification_link_is_refused(actions: Actions) -> None:
    actions.sign_up("tamper@example.com")
    link = actions.mailed_link("tamper@example.com")
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    response = actions.client.get(tampered)
    assert response.status_code == 400
    assert "not valid" in response.get_data(as_text=True)
    assert not actions.user("tamper@example.com").is_verified


def test_expired_verification_link_is_refused(actions: Actions) -> None:
    actions.sign_up("late@example.com")
    user = actions.user("late@example.com")
    serializer = URLSafeTimedSerializer(
        actions.app.config["SECRET_KEY"], salt="unified-login.verify-email.v1"
    )
    # A link signed 25 hours ago (the lifetime is 24 hours).
    real_time = time.time
    try:
        time.time = lambda: real_time() - 25 * 3600  # type: ignore[assignment]
        token = serializer.dumps({"uid": user.id, "email": user.email, "jti": "x" * 32})
    finally:
        time.time = real_time  # type: ignore[assignment]
    response = actions.client.get(f"/verify-email?token={token}")
    assert response.status_code == 400
    assert "expired" in response.get_data(as_text=True)


def test_duplicate_email_case_insensitive_does_not_create_or_reveal(actions: Actions) -> None:
    actions.create_user("taken@example.com")
    response = actions.sign_up("TAKEN@example.com")
    assert response.status_code == 200
    assert "Check your inbox" in response.get_data(as_text=True)
    mails = actions.mails("taken@example.com")
    assert len(mails) == 1 and "already have" in mails[0].body


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short pass", "at least 12"),
        ("x" * 129, "at most 128"),
        ("password1234", "too common"),
        ("aaaaaaaaaaaaaaaa", "too easy"),
    ],
    ids=["too-short", "too-long", "common-list", "repetitive"],
)
def test_password_rules(actions: Actions, password: str, message: str) -> None:
    response = actions.sign_up("rules@example.com", password)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert actions.mails("rules@example.com") == []


@pytest.mark.parametrize(
    "password",
    ["no composition rules", "x" * 64 + "yz", "日本語のとても長いパスワードです"],
    ids=["plain-words", "66-chars", "unicode"],
)
def test_long_and_plain_passwords_are_accepted(actions: Actions, password: str) -> None:
    assert actions.sign_up("ok@example.com", password).status_code == 200
    assert actions.user("ok@example.com")


@pytest.mark.parametrize(
    "email", ["not-an-email", "a@@example.com", "a@b", "а@example.com", "x" * 300 + "@e.com"],
    ids=["no-at", "two-at", "no-dot", "cyrillic-lookalike", "too-long"],
)
def test_invalid_emails_refused(actions: Actions, email: str) -> None:
    response = actions.sign_up(email)
    assert response.status_code == 400
    assert "valid email" in response.get_data(as_text=True) or "Field" in response.get_data(
        as_text=True
    )


def test_unsolicited_mail_is_capped_per_recipient(actions: Actions) -> None:
    """Sign-ups with a taken address and resent links cannot flood someone's inbox."""
    actions.create_user("victim@example.com")
    for _ in range(8):
        assert actions.sign_up("victim@example.com").status_code == 200
    assert len(actions.mails("victim@example.com")) == 5
    actions.create_user("unverified@example.com", verified=False)
    for _ in range(8):
        response = actions.post("/verify-email/resend", form_path="/signup",
                                email="unverified@example.com")
        assert response.status_code == 200
    assert len(actions.mails("unverified@example.com")) == 5


def test_the_browser_that_signed_up_confirms_without_the_password_and_is_signed_in(
    actions: Actions,
) -> None:
    """Sign-up asks for the password once: the link opened where the sign-up was made (its
    session holds that sign-up) confirms with one button and signs in."""
    actions.sign_up("here@example.com")
    link = actions.mailed_link("here@example.com")
    page = actions.client.get(link).get_data(as_text=True)
    assert "Confirm email address" in page and 'type="password"' not in page
    token = link.split("token=", 1)[1]
    confirmed = actions.post("/verify-email", form_path=link, token=token)
    assert confirmed.status_code == 302 and confirmed.location == "/"
    home = actions.client.get("/")
    assert home.status_code == 200 and "here@example.com" in home.get_data(as_text=True)
    assert "Email address confirmed" in home.get_data(as_text=True)
    assert actions.user("here@example.com").is_verified


def test_another_browser_still_confirms_with_the_password(actions: Actions) -> None:
    """The anti-hijack rule stays: a browser without the sign-up's session types the
    password chosen at sign-up, and is not signed in by the link."""
    actions.sign_up("there@example.com")
    link = actions.mailed_link("there@example.com")
    phone = Actions(actions.app, actions.app.test_client())
    page = phone.client.get(link).get_data(as_text=True)
    assert 'type="password"' in page
    assert phone.verify("there@example.com").status_code == 400
    assert not actions.user("there@example.com").is_verified
    confirmed = phone.verify("there@example.com", PASSWORD)
    assert confirmed.status_code == 200 and "is confirmed" in confirmed.get_data(as_text=True)
    assert phone.client.get("/").status_code == 302  # confirmed, not signed in


def test_a_later_sign_up_of_the_address_takes_the_shortcut_away(actions: Actions) -> None:
    """The browser of a sign-up that another sign-up replaced holds no shortcut: the link of
    the new sign-up, opened there, asks for the password (the one chosen last)."""
    actions.sign_up("twice@example.com")
    other = Actions(actions.app, actions.app.test_client())
    other.sign_up("twice@example.com", "another long passphrase")
    link = actions.mailed_link("twice@example.com")
    assert 'type="password"' in actions.client.get(link).get_data(as_text=True)
    assert actions.verify("twice@example.com").status_code == 400
    assert not actions.user("twice@example.com").is_verified
