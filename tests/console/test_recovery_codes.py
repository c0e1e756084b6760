"""Recovery codes that work (issue 12, item 3): their own entry with a text keyboard, copy /
download / print, regeneration behind a confirmation, the count and a notice after one is
used, and a reused TOTP code told apart from a wrong one."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import select

from gateway.db import new_session
from gateway.identity.totp import new_recovery_codes
from gateway.models import User
from tests.support import races
from tests.support.console import Actions, age_sessions, current_code, make_gateway_app


def with_codes(actions: Actions, app: Flask) -> tuple[str, list[str]]:
    actions.create_user(totp=True)
    with app.app_context(), new_session() as session:
        user = session.scalars(select(User)).one()
        codes = new_recovery_codes(user)
        session.commit()
        return user.totp_secret or "", codes


def signed_in_with_codes(actions: Actions, app: Flask) -> list[str]:
    """An account with 2FA and recovery codes, signed in with its authenticator's code."""
    secret, codes = with_codes(actions, app)
    actions.sign_in()
    actions.enter_code(current_code(secret))
    return codes


def input_tag(page: str, name: str = "code") -> str:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert match, page
    return match.group(0)


def test_code_step_numeric_and_recovery_entry_with_a_text_keyboard(
    actions: Actions, app: Flask
) -> None:
    with_codes(actions, app)
    actions.sign_in()
    totp_page = actions.client.get("/login/2fa").get_data(as_text=True)
    assert 'inputmode="numeric"' in input_tag(totp_page)
    assert 'href="/login/2fa/recovery"' in totp_page and "Use a recovery code" in totp_page
    recovery_page = actions.client.get("/login/2fa/recovery").get_data(as_text=True)
    field = input_tag(recovery_page)
    assert 'inputmode="text"' in field and 'autocomplete="one-time-code"' in field
    assert "Recovery code" in recovery_page


def test_recovery_code_sign_in_shows_the_count_invites_and_mails(
    actions: Actions, app: Flask
) -> None:
    _secret, codes = with_codes(actions, app)
    actions.sign_in(next="/settings")
    response = actions.post("/login/2fa/recovery", form_path="/login/2fa/recovery",
                            code=codes[0].upper())
    assert response.status_code == 302
    assert response.location == "/settings/2fa/recovery-code-used"
    page = actions.client.get(response.location).get_data(as_text=True)
    assert re.search(r'data-testid="recovery-left">9<', page)
    assert 'href="/settings/2fa/recovery-codes"' in page  # invited to make new ones
    assert 'href="/settings"' in page  # and on to where they were going
    notice = actions.mails("user@example.com")[-1]
    assert notice.subject == "A recovery code was used to sign in" and "9 unused" in notice.body
    # The page is shown once; afterwards it leads home.
    assert actions.client.get("/settings/2fa/recovery-code-used").status_code == 302


def test_recovery_code_spent_twice_at_once_signs_in_once(actions: Actions, app: Flask) -> None:
    """Single-use race: two 2FA steps spend one recovery code at the same moment."""
    _secret, codes = with_codes(actions, app)
    browsers = [Actions(app, app.test_client()) for _ in range(2)]
    for browser in browsers:
        assert browser.sign_in().location == "/login/2fa"
    results = races.together(app, "UPDATE recovery_codes", *[
        lambda b=b: b.post("/login/2fa/recovery", code=codes[0]) for b in browsers
    ])
    assert sorted(r.status_code for r in results) == [302, 401]
    assert sum(b.client.get("/settings").status_code == 200 for b in browsers) == 1


def test_wrong_recovery_code_has_its_own_message(actions: Actions, app: Flask) -> None:
    with_codes(actions, app)
    actions.sign_in()
    response = actions.post("/login/2fa/recovery", code="aaaaa-bbbbb-ccccc-ddddd")
    assert response.status_code == 401
    assert "That recovery code did not work" in response.get_data(as_text=True)


def test_reused_totp_code_says_wait_for_the_next_one(actions: Actions, app: Flask) -> None:
    secret, _codes = with_codes(actions, app)
    code = current_code(secret)
    actions.sign_in()
    assert actions.enter_code(code).status_code == 302
    actions.sign_out()
    actions.sign_in()
    response = actions.enter_code(code)
    assert response.status_code == 401
    body = response.get_data(as_text=True)
    assert "already used" in body and "Wait for the next code" in body
    wrong = actions.enter_code("000000" if code != "000000" else "111111")
    assert "That code did not work" in wrong.get_data(as_text=True)


def test_codes_offered_to_copy_download_and_print(actions: Actions, app: Flask) -> None:
    signed_in_with_codes(actions, app)
    page = actions.post("/settings/2fa/recovery-codes", form_path="/settings/2fa/recovery-codes")
    body = page.get_data(as_text=True)
    codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", body)
    assert len(codes) == 10
    assert "data-copy-codes" in body and "data-print-page" in body
    assert "recovery-codes.js" in body  # copies the listed codes (without it: select them)
    download = actions.post("/settings/2fa/recovery-codes/download",
                            form_path="/settings/2fa/recovery-codes", codes=" ".join(codes))
    assert download.status_code == 200
    assert download.mimetype == "text/plain"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert ".txt" in download.headers["Content-Disposition"]
    assert all(code in download.get_data(as_text=True) for code in codes)
    with actions.client.get("/static/recovery-codes.js") as script:
        assert script.status_code == 200


def test_download_echoes_only_the_accounts_unused_codes(actions: Actions, app: Flask) -> None:
    _secret, codes = with_codes(actions, app)
    actions.sign_in()
    assert actions.enter_code(codes[0]).status_code == 302
    for sent in ("<script>alert(1)</script>", "aaaaa-bbbbb-ccccc-ddddd", codes[0],
                 " ".join(codes[1:] + ["x" * 30]), ""):
        response = actions.post("/settings/2fa/recovery-codes/download",
                                form_path="/settings", codes=sent)
        assert response.status_code == 400, sent
    signed_out = Actions(app, app.test_client())
    response = signed_out.post("/settings/2fa/recovery-codes/download", form_path="/login",
                               codes=codes[1])
    assert response.status_code == 302 and "/login" in response.location


def test_regeneration_asks_first_and_says_old_codes_stop_working(
    actions: Actions, app: Flask
) -> None:
    codes = signed_in_with_codes(actions, app)
    overview = actions.client.get("/settings").get_data(as_text=True)
    assert 'href="/settings/2fa/recovery-codes"' in overview
    assert 'action="/settings/2fa/recovery-codes"' not in overview  # no one-click replace
    confirm = actions.client.get("/settings/2fa/recovery-codes")
    body = confirm.get_data(as_text=True)
    assert confirm.status_code == 200 and "every old code stops" in body
    assert 'action="/settings/2fa/recovery-codes"' in body
    other = Actions(app, app.test_client())
    assert other.sign_in().location == "/login/2fa"
    assert other.enter_code(codes[0]).status_code == 302  # nothing replaced by looking


def test_recovery_code_spent_at_reauthentication_is_mailed_and_audited(
    actions: Actions, app: Flask
) -> None:
    """Every spend of a recovery code tells the account holder, wherever it was typed."""
    codes = signed_in_with_codes(actions, app)
    age_sessions(app)
    assert actions.reauthenticate(code=codes[3]).status_code == 302
    notice = actions.mails("user@example.com")[-1]
    assert "recovery code was used" in notice.subject and "9 unused" in notice.body
    activity = actions.client.get("/settings/activity").get_data(as_text=True)
    assert 'data-event="recovery_code_used"' in activity


def test_download_needs_a_fresh_reauthentication(actions: Actions, app: Flask) -> None:
    """The download answers whether codes are unused ones: only inside the window."""
    codes = signed_in_with_codes(actions, app)
    age_sessions(app)
    response = actions.post("/settings/2fa/recovery-codes/download", form_path="/settings",
                            codes=" ".join(codes))
    assert response.status_code == 302 and "/settings/reauthenticate" in response.location
    assert codes[0] not in response.get_data(as_text=True)
    # Where re-authentication sends them back (a GET): codes are never kept, new ones offered.
    back = actions.client.get("/settings/2fa/recovery-codes/download")
    assert back.status_code == 302 and back.location == "/settings/2fa/recovery-codes"


def test_download_guesses_are_throttled(database_url: str) -> None:
    """Guessing codes at the download counts like wrong codes at sign-in."""
    app = make_gateway_app(database_url, LOGIN_MAX_FAILURES=3)
    actions = Actions(app, app.test_client())
    codes = signed_in_with_codes(actions, app)
    statuses = [
        actions.post("/settings/2fa/recovery-codes/download", form_path="/settings",
                     codes=f"aaaaa-bbbbb-ccccc-dddd{n}").status_code
        for n in range(4)
    ]
    assert statuses == [400, 400, 400, 429]
    refused = actions.post("/settings/2fa/recovery-codes/download", form_path="/settings",
                           codes=" ".join(codes))
    assert refused.status_code == 429 and refused.headers["Retry-After"]
    assert codes[0] not in refused.get_data(as_text=True)


def test_a_strangers_wrong_passwords_do_not_block_the_download(database_url: str) -> None:
    """The account's sign-in lock is anyone's to set off: the owner's download is not its."""
    app = make_gateway_app(database_url, LOGIN_MAX_FAILURES=3)
    actions = Actions(app, app.test_client())
    codes = signed_in_with_codes(actions, app)
    stranger = Actions(app, app.test_client())
    assert [stranger.sign_in(password="wrong-password").status_code for _ in range(4)][-1] == 429
    download = actions.post("/settings/2fa/recovery-codes/download", form_path="/settings",
                            codes=" ".join(codes))
    assert download.status_code == 200 and codes[0] in download.get_data(as_text=True)


def test_download_refusals_do_not_lock_the_account(database_url: str) -> None:
    """Refused downloads are counted for that session alone: neither sign-in nor another
    session's download is refused because of them."""
    app = make_gateway_app(database_url, LOGIN_MAX_FAILURES=3)
    actions = Actions(app, app.test_client())
    codes = signed_in_with_codes(actions, app)
    for n in range(4):
        actions.post("/settings/2fa/recovery-codes/download", form_path="/settings",
                     codes=f"aaaaa-bbbbb-ccccc-dddd{n}")
    other = Actions(app, app.test_client())
    assert other.sign_in().location == "/login/2fa"
    assert other.enter_code(codes[0]).status_code == 302
    download = other.post("/settings/2fa/recovery-codes/download", form_path="/settings",
                          codes=codes[1])
    assert download.status_code == 200
