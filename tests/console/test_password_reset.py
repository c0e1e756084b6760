"""Forgot password (issue 12, item 1) and a lockout one can understand (item 2), over HTTP.

No enumeration is tested as equal work (the same SQL statements, hashes and mails for every
kind of address) and the same page and status, never by wall clock.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import itsdangerous.timed
import pyotp
import pytest
from flask import Flask
from sqlalchemy import event, select, update

from gateway import db as gateway_db
from gateway.db import new_session
from gateway.identity import recovery as recovery_rules
from gateway.identity import tokens
from gateway.identity.totp import new_recovery_codes
from gateway.models import AuditEvent, User, utcnow
from tests.support import races
from tests.support.console import (
    PASSWORD,
    Actions,
    current_code,
    lock_out,
    make_gateway_app,
)
from tests.support.csrf import csrf_token, without_csrf

NEW_PASSWORD = "a fresh and long passphrase"


def ask_reset(actions: Actions, email: str) -> Any:
    return actions.post("/forgot-password", email=email)


def reset_link(actions: Actions, email: str) -> str:
    ask_reset(actions, email)
    link = actions.mailed_link(email)
    assert link.startswith("/reset-password?token="), link
    return link


def reset(actions: Actions, link: str, password: str = NEW_PASSWORD, **extra: str) -> Any:
    token = link.split("token=", 1)[1].split("&", 1)[0]
    return actions.post(link, form_path=link, token=token, password=password, **extra)


def events(app: Flask, name: str) -> list[AuditEvent]:
    with app.app_context(), new_session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.event == name)))


def fresh(app: Flask) -> Actions:
    return Actions(app, app.test_client())


@contextmanager
def counted(app: Flask) -> Iterator[dict[str, Any]]:
    """The kinds of SQL statements run while inside."""
    seen: dict[str, Any] = {"sql": []}
    engine = gateway_db.engine(app)

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen["sql"].append(statement.split(None, 1)[0].upper())

    event.listen(engine, "before_cursor_execute", on_execute)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", on_execute)


# --- asking for a link ------------------------------------------------------------------------


def test_sign_in_page_links_to_the_reset(actions: Actions) -> None:
    page = actions.client.get("/login").get_data(as_text=True)
    assert 'href="/forgot-password"' in page
    form = actions.client.get("/forgot-password").get_data(as_text=True)
    assert 'autocomplete="email"' in form and "Send reset link" in form


def test_no_enumeration_same_page_status_and_work(actions: Actions, app: Flask) -> None:
    actions.create_user("verified@example.com")
    actions.create_user("pending@example.com", verified=False)
    actions.create_user("expired@example.com", verified=False)
    with app.app_context(), new_session() as session:
        session.execute(update(User).where(User.email == "expired@example.com")
                        .values(created_at=utcnow() - timedelta(hours=25)))
        session.commit()
    assert ask_reset(actions, "warm-up@example.com").status_code == 200
    pages, work = set(), {}
    for email in ("nobody@example.com", "verified@example.com", "pending@example.com",
                  "expired@example.com"):
        token = csrf_token(actions.client, "/forgot-password")
        with counted(app) as seen:
            response = actions.client.post(
                "/forgot-password", data={"email": email, "csrf_token": token}
            )
        assert response.status_code == 200
        pages.add(without_csrf(response.get_data(as_text=True)).replace(email, "EMAIL"))
        work[email] = (seen["sql"], len(actions.mails(email)))
    assert len(pages) == 1
    assert len(set(map(repr, work.values()))) == 1, work
    assert work["verified@example.com"][1] == 1
    assert "/reset-password?token=" in actions.mails("verified@example.com")[-1].body
    assert "/reset-password" not in actions.mails("nobody@example.com")[-1].body
    assert "/reset-password" not in actions.mails("expired@example.com")[-1].body


def test_throttled_per_client_and_per_address(database_url: str) -> None:
    app = make_gateway_app(database_url, SIGNUP_MAX_PER_IP=4, RESET_MAX_PER_ADDRESS=2)
    visitor = fresh(app)
    visitor.create_user()
    statuses = [ask_reset(visitor, "user@example.com").status_code for _ in range(3)]
    assert statuses == [200, 200, 200]  # past the per-address limit: same answer, no mail
    assert len(visitor.mails("user@example.com")) == 2
    assert ask_reset(visitor, "other@example.com").status_code == 200
    blocked = ask_reset(visitor, "third@example.com")
    assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 0
    assert visitor.mails("third@example.com") == []


def test_mail_cap_per_recipient(database_url: str) -> None:
    app = make_gateway_app(database_url, MAIL_PER_HOUR=1, RESET_MAX_PER_ADDRESS=10)
    visitor = fresh(app)
    visitor.create_user()
    for _ in range(3):
        assert ask_reset(visitor, "user@example.com").status_code == 200
    assert len(visitor.mails("user@example.com")) == 1


def test_bad_address_is_a_clear_400(actions: Actions) -> None:
    response = ask_reset(actions, "not an address")
    assert response.status_code == 400 and "Enter a valid email address" in response.get_data(
        as_text=True
    )


# --- the link ---------------------------------------------------------------------------------


def test_reset_ends_sessions_notifies_audits_and_signs_in(actions: Actions, app: Flask) -> None:
    actions.create_user()
    laptop = fresh(app)
    assert laptop.sign_in().status_code == 302
    link = reset_link(actions, "user@example.com")
    for _ in range(2):  # the GET (a mail scanner) shows the form and spends nothing
        page = actions.client.get(link)
        assert page.status_code == 200 and 'autocomplete="new-password"' in page.get_data(
            as_text=True
        )
    response = reset(actions, link)
    assert response.status_code == 302 and response.location == "/"
    assert actions.client.get("/").status_code == 200  # this browser is signed in
    assert laptop.client.get("/").status_code == 302  # every other session ended
    assert fresh(app).sign_in().status_code == 401  # the old password is gone
    assert fresh(app).sign_in(password=NEW_PASSWORD).status_code == 302
    subjects = [m.subject for m in actions.mails("user@example.com")]
    assert "Your password was reset" in subjects
    assert len(events(app, "password_reset")) == 1
    activity = actions.client.get("/settings/activity").get_data(as_text=True)
    assert "Password reset from the emailed link" in activity


def test_link_works_once(actions: Actions) -> None:
    actions.create_user()
    link = reset_link(actions, "user@example.com")
    assert reset(actions, link).status_code == 302
    again = reset(fresh(actions.app), link, password="yet another passphrase")
    assert again.status_code == 400 and "already used" in again.get_data(as_text=True)
    assert fresh(actions.app).sign_in(password=NEW_PASSWORD).status_code == 302


def _one_won_one_was_told(app: Flask, results: list[Any]) -> None:
    """One reset signed in, the other got the "already used" page; one reset happened."""
    statuses = sorted(r.status_code for r in results)
    assert statuses == [302, 400], statuses
    loser = next(r for r in results if r.status_code == 400).get_data(as_text=True)
    assert "This link was already used" in loser
    assert len(events(app, "password_reset")) == 1


def test_link_spent_by_a_concurrent_reset_says_already_used(actions: Actions, app: Flask) -> None:
    """Single-use race: the second POST passed every check before the first committed."""
    actions.create_user()
    link = reset_link(actions, "user@example.com")
    first, second = fresh(app), fresh(app)
    results = races.after_the_check(
        app, "INSERT INTO used_tokens",
        lambda: reset(first, link), lambda: reset(second, link, password="another passphrase 2"),
    )
    _one_won_one_was_told(app, list(results))
    assert fresh(app).sign_in(password=NEW_PASSWORD).status_code == 302  # the winner's password


def test_link_posted_twice_at_once_one_wins(actions: Actions, app: Flask) -> None:
    """Single-use race: two POSTs spend the link at the same moment."""
    actions.create_user()
    link = reset_link(actions, "user@example.com")
    browsers = [fresh(app), fresh(app)]
    results = races.together(
        app, "INSERT INTO used_tokens", *[lambda b=b: reset(b, link) for b in browsers]
    )
    _one_won_one_was_told(app, results)


def test_link_expires_after_an_hour(actions: Actions, monkeypatch: pytest.MonkeyPatch) -> None:
    actions.create_user()
    real = time.time
    with monkeypatch.context() as past:
        past.setattr(itsdangerous.timed.time, "time", lambda: real() - 3601)
        link = reset_link(actions, "user@example.com")
    response = actions.client.get(link)
    assert response.status_code == 400 and "expired" in response.get_data(as_text=True)
    assert reset(actions, link).status_code == 400
    assert fresh(actions.app).sign_in().status_code == 302  # nothing changed


def test_link_dies_when_the_password_changes_by_another_route(actions: Actions) -> None:
    actions.create_user()
    link = reset_link(actions, "user@example.com")
    actions.sign_in()
    changed = actions.post("/settings/password", password="changed in settings meanwhile")
    assert changed.status_code == 302
    response = actions.client.get(link)
    assert response.status_code == 400
    assert "password was changed" in response.get_data(as_text=True)
    assert reset(fresh(actions.app), link).status_code == 400
    # A second link dies when the first one is used (the password changed again).
    first, second = reset_link(actions, "user@example.com"), reset_link(actions, "user@example.com")
    assert reset(fresh(actions.app), first).status_code == 302
    assert reset(fresh(actions.app), second, password="third passphrase here").status_code == 400


def test_link_cannot_reset_another_account(actions: Actions, app: Flask) -> None:
    alice = actions.create_user("alice@example.com")
    bob = actions.create_user("bob@example.com")
    link = reset_link(actions, "alice@example.com")
    with app.test_request_context():
        data = tokens.read_token(recovery_rules.TOKEN_PURPOSE, link.split("token=")[1])
        # Alice's token re-signed with Bob's id: the address no longer matches.
        swapped = tokens.make_token(recovery_rules.TOKEN_PURPOSE, **{**data, "uid": bob.id})
        # Bob's address-verification token is not a reset token (another purpose).
        verify = tokens.make_token("verify-email", uid=bob.id, email=bob.email)
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    for bad in (f"/reset-password?token={swapped}", f"/reset-password?token={verify}", tampered):
        response = reset(fresh(app), bad)
        assert response.status_code == 400, bad
    assert fresh(app).sign_in("bob@example.com").status_code == 302
    assert reset(fresh(app), link).status_code == 302  # Alice's own link still works
    assert fresh(app).sign_in("alice@example.com", NEW_PASSWORD).status_code == 302
    assert alice.id != bob.id


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 12"), ("password1234", "too common"), (PASSWORD, "current password")],
    ids=["too-short", "common", "current"],
)
def test_new_password_follows_the_policy(actions: Actions, password: str, message: str) -> None:
    actions.create_user()
    link = reset_link(actions, "user@example.com")
    response = reset(actions, link, password=password)
    assert response.status_code == 400 and message in response.get_data(as_text=True)
    assert reset(actions, link).status_code == 302  # not spent by a refused try


def test_unverified_account_reset_confirms_the_address(actions: Actions, app: Flask) -> None:
    actions.create_user("pending@example.com", verified=False)
    link = reset_link(actions, "pending@example.com")
    assert reset(actions, link).status_code == 302
    assert actions.user("pending@example.com").is_verified
    assert fresh(app).sign_in("pending@example.com", NEW_PASSWORD).status_code == 302


def test_hostile_links_are_clear_400s(actions: Actions) -> None:
    for token in ("", "x" * 5000, "%00", "a.b.c", "\u202e"):
        response = actions.client.get("/reset-password", query_string={"token": token})
        assert response.status_code == 400
    assert actions.client.post("/reset-password", data={"token": "x"}).status_code == 400


# --- 2FA --------------------------------------------------------------------------------------


def test_reset_with_2fa_needs_the_authenticator_code(actions: Actions, app: Flask) -> None:
    user = actions.create_user(totp=True)
    link = reset_link(actions, "user@example.com")
    page = actions.client.get(link).get_data(as_text=True)
    assert 'inputmode="numeric"' in page and "Use a recovery code instead" in page
    assert reset(actions, link).status_code == 401  # no code: nothing changes
    assert reset(actions, link, code="000000").status_code in (401,)
    assert fresh(app).sign_in().status_code == 302  # still the old password (then 2FA)
    response = reset(actions, link, code=current_code(user.totp_secret or ""))
    assert response.status_code == 302
    assert fresh(app).sign_in(password=NEW_PASSWORD).location == "/login/2fa"  # 2FA stays on
    assert events(app, "login")[-1].detail.count('"otp"') == 1


def test_reset_with_2fa_and_a_recovery_code(actions: Actions, app: Flask) -> None:
    actions.create_user(totp=True)
    with app.app_context(), new_session() as session:
        user = session.scalars(select(User)).one()
        codes = new_recovery_codes(user)
        session.commit()
    link = reset_link(actions, "user@example.com")
    recovery_link = link + "&use=recovery"
    page = actions.client.get(recovery_link).get_data(as_text=True)
    assert 'inputmode="text"' in page and "Recovery code" in page
    response = reset(actions, recovery_link, code=codes[0])
    assert response.status_code == 302
    assert response.location == "/settings/2fa/recovery-code-used"
    second = fresh(app)
    assert second.sign_in(password=NEW_PASSWORD).location == "/login/2fa"
    assert second.enter_code(codes[0]).status_code == 401  # the code was spent by the reset


def test_second_factor_proven_once_per_link_and_browser(actions: Actions, app: Flask) -> None:
    user = actions.create_user(totp=True)
    link = reset_link(actions, "user@example.com")
    code = current_code(user.totp_secret or "")
    refused = reset(actions, link, password=PASSWORD, code=code)  # the current password
    assert refused.status_code == 400
    body = refused.get_data(as_text=True)
    assert "current password" in body
    assert 'name="code"' not in body  # proven: not asked again
    assert reset(fresh(app), link).status_code == 401  # another browser still must prove it
    assert reset(actions, link).status_code == 302


def test_refused_password_spends_no_recovery_code(actions: Actions, app: Flask) -> None:
    actions.create_user(totp=True)
    with app.app_context(), new_session() as session:
        codes = new_recovery_codes(session.scalars(select(User)).one())
        session.commit()
    link = reset_link(actions, "user@example.com") + "&use=recovery"
    assert reset(actions, link, password="short", code=codes[0]).status_code == 400
    other = fresh(app)
    other.sign_in()
    assert other.enter_code(codes[0]).status_code == 302  # still unused


def test_reused_code_at_reset_says_so(actions: Actions) -> None:
    user = actions.create_user(totp=True)
    code = current_code(user.totp_secret or "")
    actions.sign_in()
    assert actions.enter_code(code).status_code == 302
    link = reset_link(actions, "user@example.com")
    other = fresh(actions.app)
    response = reset(other, link, code=code)
    assert response.status_code == 401 and "already used" in response.get_data(as_text=True)


def test_wrong_codes_at_reset_are_throttled(database_url: str) -> None:
    app = make_gateway_app(database_url, LOGIN_MAX_FAILURES=3)
    actions = fresh(app)
    actions.create_user(totp=True)
    link = reset_link(actions, "user@example.com")
    secret = pyotp.random_base32()  # codes of another key: always wrong
    statuses = [reset(actions, link, code=pyotp.TOTP(secret).now()).status_code
                for _ in range(4)]
    assert statuses[-1] == 429, statuses


# --- lockout ----------------------------------------------------------------------------------


def test_failed_sign_in_explains_the_lockout_and_offers_the_reset(actions: Actions) -> None:
    actions.create_user()
    body = actions.sign_in(password="wrong password!!").get_data(as_text=True)
    assert "Incorrect email or password." in body
    assert "After 10 failed attempts in a row" in body and "15 minutes" in body
    assert 'href="/forgot-password?email=user@example.com"' in body  # the address typed


def test_locked_out_page_has_retry_after_and_the_reset(actions: Actions, app: Flask) -> None:
    actions.create_user()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        actions.sign_in(password="wrong password!!")
    locked = actions.sign_in()
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    body = locked.get_data(as_text=True)
    assert "Too many attempts. Try again in about 15 minutes." in body
    assert 'href="/forgot-password"' in body
    # A reset lifts the pause on the account.
    link = reset_link(actions, "user@example.com")
    assert reset(fresh(app), link).status_code == 302
    assert fresh(app).sign_in(password=NEW_PASSWORD).status_code == 302


def test_gateway_mails_that_mention_a_reset_link_to_it(actions: Actions) -> None:
    actions.create_user()
    assert fresh(actions.app).post("/signup", email="user@example.com",
                                   password="someone else's passphrase").status_code == 200
    assert "/forgot-password" in actions.mails("user@example.com")[-1].body
    actions.sign_in()
    assert actions.post("/settings/password", password="changed in settings now").status_code \
        == 302
    changed = actions.mails("user@example.com")[-1]
    assert changed.subject == "Your password was changed" and "/forgot-password" in changed.body


@pytest.mark.parametrize("use", ["otp", "recovery"])
def test_account_lock_gives_way_to_the_link_and_a_second_factor(
    actions: Actions, app: Flask, use: str
) -> None:
    """A stranger's wrong passwords lock the account; its owner, with the mailed link and a
    correct second factor, still gets in, and that lifts the lock (audited)."""
    user = actions.create_user(totp=True)
    with app.app_context(), new_session() as session:
        codes = new_recovery_codes(session.scalars(select(User)).one())
        session.commit()
    lock_out(app)
    link = reset_link(actions, "user@example.com") + ("&use=recovery" if use == "recovery" else "")
    code = current_code(user.totp_secret or "") if use == "otp" else codes[0]
    response = reset(actions, link, code=code)
    assert response.status_code == 302, response.get_data(as_text=True)
    lifted = events(app, "lockout_lifted")
    assert len(lifted) == 1 and '"by": "password_reset"' in lifted[0].detail
    assert fresh(app).sign_in(password=NEW_PASSWORD).status_code == 302  # no longer locked


def test_wrong_codes_under_an_account_lock_are_throttled_per_link(database_url: str) -> None:
    app = make_gateway_app(database_url, LOGIN_MAX_FAILURES=3)
    actions = fresh(app)
    user = actions.create_user(totp=True)
    lock_out(app)
    link = reset_link(actions, "user@example.com")
    wrong = pyotp.TOTP(pyotp.random_base32())  # codes of another key
    statuses = [reset(actions, link, code=wrong.now()).status_code for _ in range(3)]
    assert statuses == [401, 401, 401]  # the account lock does not answer: the code is checked
    refused = reset(actions, link, code=current_code(user.totp_secret or ""))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert fresh(app).sign_in().status_code == 429  # nothing lifted the account lock
    assert not events(app, "lockout_lifted")


def test_reset_cancels_a_pending_email_change(actions: Actions, app: Flask) -> None:
    actions.create_user()
    actions.sign_in()
    assert actions.post("/settings/email", email="new@example.com").status_code == 200
    confirm = actions.mailed_link("new@example.com")
    link = reset_link(actions, "user@example.com")
    assert reset(fresh(app), link).status_code == 302
    cancelled = events(app, "email_change_cancelled")
    assert len(cancelled) == 1 and '"by": "password_reset"' in cancelled[0].detail
    notice = next(m for m in actions.mails("user@example.com")
                  if m.subject == "Your password was reset")
    assert "new@example.com" in notice.body and "stopped" in notice.body
    owner = fresh(app)
    owner.sign_in(password=NEW_PASSWORD)
    token = confirm.split("token=", 1)[1]
    response = owner.post("/settings/email/confirm", confirm, token=token)
    assert response.status_code == 400
    assert owner.user("user@example.com").email == "user@example.com"


def test_link_posted_twice_at_once_with_a_pending_email_change(
    actions: Actions, app: Flask
) -> None:
    """Single-use race: the link is spent before the reset's other writes (stopping the email
    change), so two POSTs at once still end in one reset and one "already used" page."""
    actions.create_user()
    actions.sign_in()
    assert actions.post("/settings/email", email="new@example.com").status_code == 200
    link = reset_link(actions, "user@example.com")
    browsers = [fresh(app), fresh(app)]
    results = races.together(
        app, "INSERT INTO used_tokens", *[lambda b=b: reset(b, link) for b in browsers]
    )
    _one_won_one_was_told(app, results)
    assert len(events(app, "email_change_cancelled")) == 1
