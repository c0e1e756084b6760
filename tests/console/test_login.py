"""Login: password, generic error, throttling with Retry-After, TOTP and recovery codes."""

from __future__ import annotations

import pytest
from flask import Flask

from gateway.identity.addresses import canonical_email
from tests.support.console import PASSWORD, Actions, current_code, make_gateway_app


def test_login_success_lands_on_safe_next(actions: Actions) -> None:
    actions.create_user()
    response = actions.sign_in(next="/settings")
    assert response.status_code == 302 and response.location == "/settings"
    assert actions.client.get("/").status_code == 200


@pytest.mark.parametrize(
    ("email", "password"),
    [("user@example.com", "wrong password!!"), ("nobody@example.com", PASSWORD)],
    ids=["wrong-password", "unknown-email"],
)
def test_generic_error(actions: Actions, email: str, password: str) -> None:
    actions.create_user()
    response = actions.sign_in(email, password)
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "Incorrect email or password." in body
    assert actions.client.get("/").status_code == 302


def test_account_throttle_locks_with_retry_after(actions: Actions) -> None:
    actions.create_user()
    limit = actions.app.config["LOGIN_MAX_FAILURES"]
    for _ in range(limit):
        assert actions.sign_in(password="wrong password!!").status_code == 401
    locked = actions.sign_in()  # even the right password waits out the cool-down
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) > 0
    assert "Too many attempts" in locked.get_data(as_text=True)
    # Email variants are the same account for throttling.
    assert actions.sign_in(" USER@example.com ").status_code == 429


def test_unknown_accounts_are_throttled_alike(actions: Actions) -> None:
    for _ in range(actions.app.config["LOGIN_MAX_FAILURES"]):
        actions.sign_in("ghost@example.com", "wrong password!!")
    assert actions.sign_in("ghost@example.com", "wrong password!!").status_code == 429


def test_ip_throttle_across_accounts(database_url: str) -> None:
    app = make_gateway_app(database_url, IP_MAX_ATTEMPTS=5, LOGIN_MAX_FAILURES=50)
    actions = Actions(app, app.test_client())
    for i in range(5):
        actions.sign_in(f"spray{i}@example.com", "wrong password!!")
    response = actions.sign_in("another@example.com", "wrong password!!")
    assert response.status_code == 429 and "Retry-After" in response.headers


def test_totp_login_and_replay_refused(actions: Actions) -> None:
    user = actions.create_user(totp=True)
    response = actions.sign_in()
    assert response.status_code == 302 and response.location == "/login/2fa"
    assert actions.client.get("/").status_code == 302  # not signed in yet
    code = current_code(user.totp_secret or "")
    assert actions.enter_code(code).status_code == 302
    assert actions.client.get("/").status_code == 200
    # Another browser replays the same code: refused.
    other = Actions(actions.app, actions.app.test_client())
    other.sign_in()
    replay = other.enter_code(code)
    assert replay.status_code == 401
    assert other.client.get("/").status_code == 302


def test_wrong_totp_code(actions: Actions) -> None:
    actions.create_user(totp=True)
    actions.sign_in()
    response = actions.enter_code("000000")
    assert response.status_code == 401 and "did not work" in response.get_data(as_text=True)


def test_recovery_code_works_once(app: Flask, actions: Actions) -> None:
    from gateway.db import new_session
    from gateway.identity.totp import new_recovery_codes
    from gateway.models import User

    actions.create_user(totp=True)
    with app.app_context(), new_session() as session:
        user = session.query(User).one()
        codes = new_recovery_codes(user)
        session.commit()
    actions.sign_in()
    assert actions.enter_code(codes[0].upper()).status_code == 302
    assert actions.client.get("/").status_code == 200
    second = Actions(app, app.test_client())
    second.sign_in()
    assert second.enter_code(codes[0]).status_code == 401


def test_2fa_step_expires_without_password(actions: Actions) -> None:
    actions.create_user(totp=True)
    # Straight to the 2FA page without the password step: back to login.
    response = actions.client.get("/login/2fa")
    assert response.status_code == 302 and response.location == "/login"


def test_login_hint_prefills_canonical_email_only(actions: Actions) -> None:
    page = actions.client.get("/login?login_hint=Alice%40Example.com").get_data(as_text=True)
    assert 'value="alice@example.com"' in page
    page = actions.client.get('/login?login_hint="><script>').get_data(as_text=True)
    assert "<script>" not in page


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [(" Alice@Example.COM ", "alice@example.com"), ("ａｌｉｃｅ@example.com", "alice@example.com"),
     ("alice@@example.com", None), ("аlice@example.com", None)],
    ids=["case-space", "fullwidth", "double-at", "cyrillic"],
)
def test_email_canonicalisation(raw: str, canonical: str | None) -> None:
    assert canonical_email(raw) == canonical


def test_failed_sign_in_is_counted_even_when_its_request_rolls_back(
    actions: Actions, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The failure count is not part of the sign-in's unit of work: a request that breaks
    after counting (here: writing its audit row) must not hand the guesser a free attempt."""
    from gateway.identity import audit

    actions.create_user()
    real_record = audit.record

    def broken_after_counting(event: str, *args: object, **detail: object) -> None:
        if event == "login_failed":
            raise RuntimeError("the database went away mid-request")
        real_record(event, *args, **detail)  # type: ignore[arg-type]

    monkeypatch.setattr(audit, "record", broken_after_counting)
    actions.app.config["PROPAGATE_EXCEPTIONS"] = False  # answered as the 500 page
    for _ in range(actions.app.config["LOGIN_MAX_FAILURES"]):
        assert actions.sign_in(password="wrong password!!").status_code == 500
    monkeypatch.setattr(audit, "record", real_record)
    assert actions.sign_in().status_code == 429
