"""2FA enrolment (QR + key), enable only after a correct code, recovery codes, disable."""

from __future__ import annotations

import re

import pyotp
from flask import Flask

from tests.support.console import Actions


def enrol(actions: Actions) -> tuple[str, list[str]]:
    page = actions.client.get("/settings/2fa/enable").get_data(as_text=True)
    assert "<svg" in page  # QR code rendered server-side
    shown = re.search(r'data-testid="totp-secret">([A-Z2-7 ]+)<', page)
    assert shown
    groups = shown.group(1).split(" ")  # the key in groups of four, easier to type
    assert len(groups) > 1 and all(len(group) == 4 for group in groups[:-1])
    secret = "".join(groups)
    # Same-device set-up: the otpauth:// link carries the same key; a copy button for it.
    assert re.search(r'href="otpauth://totp/[^"]*secret=' + secret, page)
    assert f'data-copy="{secret}"' in page
    steps = page.split("<ol>")[1].split("</form>")[0]
    assert "recovery code" not in steps  # none yet: the steps do not mention them
    response = actions.post(
        "/settings/2fa/enable", form_path="/settings/2fa/enable",
        code=pyotp.TOTP(secret).now(),
    )
    assert response.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", response.get_data(as_text=True))
    return secret, codes


def test_enrolment_with_code_from_shown_key(actions: Actions, app: Flask) -> None:
    actions.create_user()
    actions.login()
    other = Actions(app, app.test_client())
    other.login()
    secret, codes = enrol(actions)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert actions.user("user@example.com").has_2fa
    assert other.client.get("/").status_code == 302  # 2FA change ended other sessions
    # The next login asks for a code.
    fresh = Actions(app, app.test_client())
    assert fresh.login().location == "/login/2fa"


def test_wrong_code_does_not_enable(actions: Actions) -> None:
    actions.create_user()
    actions.login()
    actions.client.get("/settings/2fa/enable")
    response = actions.post("/settings/2fa/enable", code="123456")
    assert response.status_code == 400 and "did not match" in response.get_data(as_text=True)
    assert not actions.user("user@example.com").has_2fa


def test_recovery_codes_stored_hashed(actions: Actions, app: Flask) -> None:
    actions.create_user()
    actions.login()
    _secret, codes = enrol(actions)
    from gateway.db import new_session
    from gateway.models import RecoveryCode

    with app.app_context(), new_session() as s:
        stored = [r.code_hash for r in s.query(RecoveryCode)]
    assert len(stored) == 10
    assert not set(stored) & set(codes)


def test_disable_needs_reauthentication(actions: Actions, app: Flask) -> None:
    actions.create_user()
    actions.login()
    secret, _codes = enrol(actions)
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
    import time

    time.sleep(0)  # the enrolment code's step is spent; use the next step's code
    code = pyotp.TOTP(secret).at(time.time() + 30)
    assert actions.reauthenticate(code=code).status_code == 302
    response = actions.post("/settings/2fa/disable", form_path="/settings/2fa/disable")
    assert response.status_code == 302
    assert not actions.user("user@example.com").has_2fa


def test_audit_log_visible_in_settings(actions: Actions) -> None:
    actions.create_user()
    actions.login(password="wrong password!!")
    actions.login()
    enrol(actions)
    page = actions.client.get("/settings/activity").get_data(as_text=True)
    for event in ("login_failed", "login", "2fa_enabled"):
        assert f'data-event="{event}"' in page


def test_new_recovery_codes_replace_old_ones_and_end_other_sessions(
    actions: Actions, app: Flask
) -> None:
    actions.create_user()
    actions.login()
    _secret, old_codes = enrol(actions)
    laptop = Actions(app, app.test_client())
    laptop.login()
    assert laptop.login_2fa(old_codes[0]).status_code == 302  # signed in with a recovery code
    response = actions.post("/settings/2fa/recovery-codes", form_path="/settings")
    assert response.status_code == 200
    new_codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", response.get_data(as_text=True))
    assert len(new_codes) == 10 and not set(new_codes) & set(old_codes)
    assert actions.client.get("/").status_code == 200  # this browser stays signed in
    assert laptop.client.get("/").status_code == 302  # the other one was signed out
    other = Actions(app, app.test_client())
    other.login()
    assert other.login_2fa(old_codes[1]).status_code == 401  # old codes are gone
    assert other.login_2fa(new_codes[0]).status_code == 302
