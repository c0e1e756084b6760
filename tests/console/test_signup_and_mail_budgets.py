"""Floods (issue 10's attack run): sign-ups are throttled per client, confirmation mails capped
per recipient, and a burned mail budget never silences a security notice; each bound is a
setting.
"""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.console import PASSWORD, Actions, make_gateway_app, sign_up_in_a_new_browser

ATTACKER_PASSWORD = "attacker owns this passphrase"


@pytest.mark.cwe(770)
def test_signup_is_throttled_per_client(actions: Actions, app: Flask) -> None:
    answers = [
        actions.post("/signup", email=f"stranger{n}@example.com", password=PASSWORD).status_code
        for n in range(40)
    ]
    limit = app.config["SIGNUP_MAX_PER_IP"]
    assert answers[:limit] == [200] * limit
    assert set(answers[limit:]) == {429}
    mailed = sum(len(actions.mails(f"stranger{n}@example.com")) for n in range(40))
    assert mailed == limit


@pytest.mark.cwe(770)
def test_email_change_confirmations_are_capped_per_recipient(
    actions: Actions, app: Flask
) -> None:
    actions.create_user()
    actions.sign_in()
    app.config["EMAIL_CHANGE_MAX_PER_HOUR"] = 100  # the per-account throttle is not this cap
    for _ in range(20):
        answer = actions.post("/settings/email", email="stranger@example.com")
        assert answer.status_code == 200
    assert len(actions.mails("stranger@example.com")) == app.config["MAIL_PER_HOUR"]


@pytest.mark.cwe(770)
def test_burned_mail_budget_does_not_silence_security_notices(
    actions: Actions, app: Flask
) -> None:
    """Unsolicited mail is capped per recipient; a notice about a change made in one's own
    account still goes out, or an attacker could spend the cap first and then act unseen."""
    actions.create_user()
    for _ in range(8):
        sign_up_in_a_new_browser(app, "user@example.com", ATTACKER_PASSWORD)
    assert len(actions.mails("user@example.com")) == app.config["MAIL_PER_HOUR"]
    actions.sign_in()
    assert actions.post("/settings/password", password="a brand new passphrase").status_code == 302
    assert "Your password was changed" in [m.subject for m in actions.mails("user@example.com")]


def test_signup_throttle_and_mail_cap_have_settings(database_url: str) -> None:
    app = make_gateway_app(database_url, SIGNUP_MAX_PER_IP=2, MAIL_PER_HOUR=1)
    visitor = Actions(app, app.test_client())
    codes = [
        visitor.post("/signup", email="same@example.com", password=PASSWORD).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert len(visitor.mails("same@example.com")) == 1
