"""2FA enrolment (QR + key), enable only after a correct code, recovery codes, disable."""

from __future__ import annotations

import re
import time
from typing import Any

import pyotp
import pytest
from flask import Flask
from sqlalchemy import create_engine, text

from gateway.identity import totp
from gateway.migrate import upgrade
from tests.support.authenticator import SoftAuthenticator
from tests.support.console import Actions, age_sessions, current_code
from tests.support.passkey_flows import ORIGIN, passkey_app, register

EMAIL = "user@example.com"


def assert_shows_the_key_to_type_scan_or_copy(actions: Actions) -> None:
    """The set-up page: a QR code drawn on the server, the key in groups of four (easier to
    type), an otpauth:// link with the same key for a same-device set-up and a copy button."""
    page = actions.client.get("/settings/2fa/enable").get_data(as_text=True)
    assert "<svg" in page
    shown = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page)
    assert shown
    groups = shown.group(1).split(" ")
    assert len(groups) > 1 and all(len(group) == 4 for group in groups[:-1])
    secret = "".join(groups)
    assert re.search(r'href="otpauth://totp/[^"]*secret=' + secret, page)
    assert f'data-copy="{secret}"' in page
    steps = page.split("<ol>")[1].split("</form>")[0]
    assert "recovery code" not in steps  # none yet: the steps do not mention them


def test_enrolment_with_code_from_shown_key(actions: Actions, app: Flask) -> None:
    actions.create_user()
    actions.sign_in()
    other = Actions(app, app.test_client())
    other.sign_in()
    assert_shows_the_key_to_type_scan_or_copy(actions)
    secret, codes = actions.enrol_totp()
    assert len(codes) == 10 and len(set(codes)) == 10
    assert actions.user("user@example.com").has_2fa
    assert other.client.get("/").status_code == 302  # 2FA change ended other sessions
    # The next login asks for a code.
    fresh = Actions(app, app.test_client())
    assert fresh.sign_in().location == "/login/2fa"


def test_saving_the_codes_lands_on_settings_saying_2fa_is_on(actions: Actions) -> None:
    """Turning 2FA on ends with "I saved them": where that lands says what happened."""
    actions.create_user()
    actions.sign_in()
    actions.enrol_totp()
    saved = actions.post("/settings/2fa/recovery-codes/saved", form_path="/settings")
    assert saved.status_code == 302 and saved.location == "/settings"
    landed = actions.client.get("/settings").get_data(as_text=True)
    assert "Two-factor authentication is on. Your recovery codes are saved" in landed
    assert 'class="notice notice-success"' in landed


def test_the_codes_page_saves_by_a_form(actions: Actions) -> None:
    actions.create_user()
    actions.sign_in()
    actions.enrol_totp()
    page = actions.post("/settings/2fa/recovery-codes", form_path="/settings")
    shown = page.get_data(as_text=True)
    assert re.search(r'<form method="post" action="/settings/2fa/recovery-codes/saved"', shown)
    assert actions.client.post("/settings/2fa/recovery-codes/saved").status_code == 400  # CSRF


def test_wrong_code_does_not_enable(actions: Actions) -> None:
    actions.create_user()
    actions.sign_in()
    actions.client.get("/settings/2fa/enable")
    response = actions.post("/settings/2fa/enable", code="123456")
    assert response.status_code == 400 and "did not match" in response.get_data(as_text=True)
    assert not actions.user("user@example.com").has_2fa


def test_recovery_codes_stored_hashed(actions: Actions, app: Flask) -> None:
    actions.create_user()
    actions.sign_in()
    _secret, codes = actions.enrol_totp()
    from gateway.db import new_session
    from gateway.models import RecoveryCode

    with app.app_context(), new_session() as s:
        stored = [r.code_hash for r in s.query(RecoveryCode)]
    assert len(stored) == 10
    assert not set(stored) & set(codes)


def test_disable_needs_reauthentication(actions: Actions, app: Flask) -> None:
    actions.create_user()
    actions.sign_in()
    secret, _codes = actions.enrol_totp()
    from datetime import timedelta

    from gateway.db import new_session
    from gateway.models import LoginSession, utcnow

    with app.app_context(), new_session() as s:
        for record in s.query(LoginSession):
            record.authenticated_at = utcnow() - timedelta(hours=1)
        s.commit()
    response = actions.client.get("/settings/2fa/disable")
    assert "/settings/reauthenticate" in response.location
    # Password alone is not enough when 2FA is on.
    assert actions.reauthenticate().status_code == 401
    # The enrolment code's step is spent: the next step's code (one step of drift is accepted).
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert actions.reauthenticate(code=code).status_code == 302
    response = actions.post("/settings/2fa/disable", form_path="/settings/2fa/disable")
    assert response.status_code == 302
    assert not actions.user("user@example.com").has_2fa


def test_a_spent_code_works_again_never_and_the_next_step_does(
    actions: Actions, app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The authenticator's code, once used, is refused ("wait for the next code"); half a
    minute later (the TOTP clock moved, not waited for) the app's new code signs in, and the
    spent one, now old, is a wrong code."""
    actions.create_user()
    actions.sign_in()
    start = time.time()
    monkeypatch.setattr(totp, "clock", lambda: start)
    secret, _codes = actions.enrol_totp()
    spent = pyotp.TOTP(secret).at(start)
    again = Actions(app, app.test_client())
    assert again.sign_in().location == "/login/2fa"
    reused = again.enter_code(spent)
    assert reused.status_code != 302 and "next code" in reused.get_data(as_text=True)
    monkeypatch.setattr(totp, "clock", lambda: start + 30)
    assert again.enter_code(pyotp.TOTP(secret).at(start + 30)).status_code == 302
    later = Actions(app, app.test_client())
    later.sign_in()
    monkeypatch.setattr(totp, "clock", lambda: start + 90)
    assert "next code" not in later.enter_code(spent).get_data(as_text=True)
    assert later.enter_code(spent).status_code != 302


def test_audit_log_visible_in_settings(actions: Actions) -> None:
    actions.create_user()
    actions.sign_in(password="wrong password!!")
    actions.sign_in()
    actions.enrol_totp()
    page = actions.client.get("/settings/activity").get_data(as_text=True)
    for event in ("login_failed", "login", "2fa_enabled"):
        assert f'data-event="{event}"' in page


def test_new_recovery_codes_replace_old_ones_and_end_other_sessions(
    actions: Actions, app: Flask
) -> None:
    actions.create_user()
    actions.sign_in()
    _secret, old_codes = actions.enrol_totp()
    laptop = Actions(app, app.test_client())
    laptop.sign_in()
    assert laptop.enter_code(old_codes[0]).status_code == 302  # signed in with a recovery code
    response = actions.post("/settings/2fa/recovery-codes", form_path="/settings")
    assert response.status_code == 200
    new_codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", response.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert actions.client.get("/").status_code == 200  # this browser stays signed in
    assert laptop.client.get("/").status_code == 302  # the other one was signed out
    other = Actions(app, app.test_client())
    other.sign_in()
    assert other.enter_code(old_codes[1]).status_code == 401  # old codes are gone
    assert other.enter_code(new_codes[0]).status_code == 302


def shown_secret(page: str) -> str:
    match = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page)
    assert match, page
    return match.group(1).replace(" ", "")


def test_unconfirmed_secret_never_passes_the_second_factor(database_url: str) -> None:
    """An account whose second factor is a passkey opens the enrolment page and leaves: the
    key it showed is no factor of the account, at sign-in or anywhere else."""
    app = passkey_app(database_url)
    actions = Actions(app, app.test_client())
    actions.create_user()
    actions.sign_in()
    register(actions, SoftAuthenticator(ORIGIN))
    secret = shown_secret(actions.client.get("/settings/2fa/enable").get_data(as_text=True))
    actions.sign_out()
    assert actions.sign_in().location == "/login/2fa"  # the passkey is asked for
    page = actions.client.get("/login/2fa").get_data(as_text=True)
    assert 'name="code"' not in page  # no code field offered
    response = actions.enter_code(current_code(secret))
    assert response.status_code == 401
    assert actions.client.get("/settings").status_code == 302  # not signed in
    assert not actions.user("user@example.com").has_2fa


def test_enrolment_page_keeps_the_key_out_of_the_account_until_confirmed(
    actions: Actions
) -> None:
    actions.create_user()
    actions.sign_in()
    first = shown_secret(actions.client.get("/settings/2fa/enable").get_data(as_text=True))
    again = shown_secret(actions.client.get("/settings/2fa/enable").get_data(as_text=True))
    assert first == again  # a reload shows the key the app may already hold
    assert actions.user("user@example.com").totp_secret is None  # nothing stored by looking
    confirmed = actions.post("/settings/2fa/enable", code=current_code(first))
    assert confirmed.status_code == 200
    user = actions.user("user@example.com")
    assert user.has_2fa and user.totp_secret == first


def test_enrolment_key_dies_with_the_session(actions: Actions) -> None:
    """A key shown before signing out cannot be confirmed after signing in again."""
    actions.create_user()
    actions.sign_in()
    old = shown_secret(actions.client.get("/settings/2fa/enable").get_data(as_text=True))
    actions.sign_out()
    actions.sign_in()
    new = shown_secret(actions.client.get("/settings/2fa/enable").get_data(as_text=True))
    assert new != old
    response = actions.post("/settings/2fa/enable", code=current_code(old))
    assert response.status_code == 400
    assert not actions.user("user@example.com").has_2fa


def test_migration_drops_secrets_that_were_never_confirmed(tmp_path: object) -> None:
    """Databases written before enrolment moved into the session may hold unconfirmed keys:
    after the upgrade they are gone; confirmed ones stay."""
    url = f"sqlite:///{tmp_path}/old.db"
    upgrade(url, "9a4c7e2b1f60")  # the schema before enrolment secrets left the account
    engine = create_engine(url)
    insert = text(
        "INSERT INTO users (id, email, password_hash, created_at, password_changed_at, "
        "plan, totp_secret, totp_enabled_at, totp_last_step) "
        "VALUES (:id, :email, 'x', '2026-01-01', '2026-01-01', 'trial', :secret, :on, :step)"
    )
    with engine.begin() as connection:
        connection.execute(insert, {"id": "pending", "email": "p@example.com",
                                    "secret": "A" * 32, "on": None, "step": 5})
        connection.execute(insert, {"id": "confirmed", "email": "c@example.com",
                                    "secret": "B" * 32, "on": "2026-01-01", "step": 7})
    upgrade(url)
    with engine.connect() as connection:
        rows = dict(connection.execute(
            text("SELECT id, totp_secret FROM users ORDER BY id")).all())
    engine.dispose()
    assert rows == {"confirmed": "B" * 32, "pending": None}


def two_factor_status(client: Any, path: str = "/settings") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'data-testid="2fa-status">([^<]+)<', page)
    assert match, page
    return " ".join(match.group(1).split())


def test_one_two_factor_status_for_every_second_factor(database_url: str) -> None:
    """Settings, the passkeys page and the notices say the same thing, from one place: a
    passkey turns 2FA on as much as the authenticator app does (issue 22, item 2)."""
    app = passkey_app(database_url)
    actions = Actions(app, app.test_client())
    actions.create_user()
    actions.sign_in()
    assert two_factor_status(actions.client) == "Off"
    register(actions, SoftAuthenticator(ORIGIN))
    assert two_factor_status(actions.client) == "On: passkey (1)"
    assert two_factor_status(actions.client, "/settings/passkeys") == "On: passkey (1)"
    assert "Two-factor authentication: On: passkey (1)." in actions.mails(EMAIL)[-1].body
    overview = actions.client.get("/settings").get_data(as_text=True)
    assert "Turn on" not in overview and "Add an authenticator app" in overview
    page = actions.client.get("/settings/2fa/enable").get_data(as_text=True)
    code = pyotp.TOTP(shown_secret(page)).now()
    added = actions.post("/settings/2fa/enable", "/settings/2fa/enable", code=code)
    assert added.status_code == 302  # 2FA was on already: the passkey's codes stay
    assert two_factor_status(actions.client) == "On: passkey (1), authenticator app"
    assert ("Two-factor authentication: On: passkey (1), authenticator app."
            in actions.mails(EMAIL)[-1].body)
    actions.post("/settings/2fa/disable", "/settings/2fa/disable")
    assert two_factor_status(actions.client) == "On: passkey (1)"
    assert "recovery codes left" in actions.client.get("/settings").get_data(as_text=True)


def test_replace_a_lost_authenticator_app(actions: Actions, app: Flask) -> None:
    """Signed in with a recovery code, the person scans a new key; the old one stops
    (issue 22, item 3)."""
    actions.create_user()
    actions.sign_in()
    old_secret, codes = actions.enrol_totp()
    actions.sign_out()
    actions.sign_in()
    actions.post("/login/2fa/recovery", code=codes[0])
    used = actions.client.get("/settings/2fa/recovery-code-used").get_data(as_text=True)
    assert 'href="/settings/2fa/replace"' in used
    assert 'href="/settings/2fa/replace"' in actions.client.get("/settings").get_data(as_text=True)
    age_sessions(app)
    asked = actions.client.get("/settings/2fa/replace")
    assert asked.status_code == 302 and "/settings/reauthenticate" in asked.headers["Location"]
    assert actions.reauthenticate(code=codes[1]).status_code == 302  # no phone: a recovery code
    page = actions.client.get("/settings/2fa/replace").get_data(as_text=True)
    assert "Replace your authenticator app" in page
    new_secret = shown_secret(page)
    assert new_secret != old_secret
    wrong = actions.post("/settings/2fa/replace", code=pyotp.TOTP(old_secret).now())
    assert wrong.status_code == 400
    assert actions.user(EMAIL).totp_secret == old_secret  # nothing changed yet
    done = actions.post("/settings/2fa/replace", code=pyotp.TOTP(new_secret).now())
    assert done.status_code == 302
    assert actions.mails(EMAIL)[-1].subject == "Authenticator app replaced"
    actions.sign_out()
    actions.sign_in()
    later = time.time() + 30  # the confirmation spent this step
    assert actions.enter_code(pyotp.TOTP(old_secret).at(later)).status_code == 401
    assert actions.enter_code(pyotp.TOTP(new_secret).at(later)).status_code == 302


def test_replacing_needs_an_authenticator_app(actions: Actions) -> None:
    actions.create_user()
    actions.sign_in()
    assert actions.client.get("/settings/2fa/replace").status_code == 302
    assert actions.post("/settings/2fa/replace", "/settings", code="123456").status_code == 400
