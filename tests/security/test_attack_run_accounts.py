"""Console accounts, as the attack run of issue 10 tried them: pre-account hijack, a half-done
2FA sign-in outliving "sign out everywhere", mail floods, and enumeration through resend.

Timing equality is tested as equal work (the same SQL statements, hashes and mails for every
kind of address), never by wall clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pyotp
from flask import Flask
from sqlalchemy import event, update

from gateway import db as gateway_db
from gateway.db import new_session
from gateway.identity import signup as signups
from gateway.models import User, utcnow
from tests.support.console import PASSWORD, Actions, current_code, make_gateway_app
from tests.support.csrf import csrf_token, without_csrf

ATTACKER_PASSWORD = "attacker owns this passphrase"
VICTIM_PASSWORD = "victim chose this passphrase"


def signup(app: Flask, email: str, password: str) -> str:
    """Sign up from a fresh browser; the page's HTML without its CSRF token."""
    visitor = Actions(app, app.test_client())
    response = visitor.post("/signup", email=email, password=password)
    assert response.status_code == 200
    return without_csrf(response.get_data(as_text=True)).replace(email, "EMAIL")


def links(actions: Actions, recipient: str) -> list[str]:
    found = [re.search(r"https?://[^/\s]+(/\S+)", m.body) for m in actions.mails(recipient)]
    return [m.group(1) for m in found if m and "/verify-email?token=" in m.group(1)]


def confirm(app: Flask, link: str, password: str = VICTIM_PASSWORD) -> int:
    """The mailbox owner opens ``link`` and confirms with the password they chose."""
    visitor = Actions(app, app.test_client())
    token = link.split("token=", 1)[1]
    return visitor.post("/verify-email", form_path=link, token=token,
                        password=password).status_code


def login_status(app: Flask, email: str, password: str) -> int:
    return Actions(app, app.test_client()).sign_in(email, password).status_code


def test_cwe_640_victim_signup_replaces_the_attackers_pending_password(
    actions: Actions, app: Flask
) -> None:
    attacker_page = signup(app, "victim@example.com", ATTACKER_PASSWORD)
    victim_page = signup(app, "victim@example.com", VICTIM_PASSWORD)
    assert attacker_page == victim_page  # the same answer: nothing to tell them apart
    mailed = links(actions, "victim@example.com")
    assert len(mailed) == 2
    first, latest = mailed
    # The link mailed for the attacker's attempt verifies nothing any more ...
    assert confirm(app, first, ATTACKER_PASSWORD) == 400
    assert not actions.user("victim@example.com").is_verified
    # ... the victim's own link verifies the victim's password, and only it.
    assert confirm(app, latest) == 200
    assert login_status(app, "victim@example.com", ATTACKER_PASSWORD) == 401
    assert login_status(app, "victim@example.com", VICTIM_PASSWORD) == 302


def test_cwe_640_attackers_later_signup_cannot_be_confirmed_by_the_victim(
    actions: Actions, app: Flask
) -> None:
    """The attacker signs up again *after* the victim: the newest link in the victim's inbox is
    for the attacker's password. Following it with the victim's own password confirms nothing,
    so the attacker's password never owns a confirmed account; the victim signs up again."""
    signup(app, "victim@example.com", VICTIM_PASSWORD)
    signup(app, "victim@example.com", ATTACKER_PASSWORD)
    newest = links(actions, "victim@example.com")[-1]
    assert confirm(app, newest, VICTIM_PASSWORD) == 400
    assert not actions.user("victim@example.com").is_verified
    assert login_status(app, "victim@example.com", ATTACKER_PASSWORD) == 403  # unconfirmed
    signup(app, "victim@example.com", VICTIM_PASSWORD)
    assert confirm(app, links(actions, "victim@example.com")[-1], VICTIM_PASSWORD) == 200
    assert login_status(app, "victim@example.com", ATTACKER_PASSWORD) == 401
    assert login_status(app, "victim@example.com", VICTIM_PASSWORD) == 302


def test_cwe_640_resent_link_is_for_the_latest_signup(actions: Actions, app: Flask) -> None:
    signup(app, "victim@example.com", ATTACKER_PASSWORD)
    signup(app, "victim@example.com", VICTIM_PASSWORD)
    resent = actions.post("/verify-email/resend", form_path="/signup", email="victim@example.com")
    assert resent.status_code == 200
    assert confirm(app, links(actions, "victim@example.com")[-1]) == 200
    assert login_status(app, "victim@example.com", ATTACKER_PASSWORD) == 401
    assert login_status(app, "victim@example.com", VICTIM_PASSWORD) == 302


def test_cwe_640_a_verified_account_is_never_replaced(actions: Actions, app: Flask) -> None:
    actions.create_user("owner@example.com", password=VICTIM_PASSWORD)
    signup(app, "owner@example.com", ATTACKER_PASSWORD)
    assert login_status(app, "owner@example.com", ATTACKER_PASSWORD) == 401
    assert login_status(app, "owner@example.com", VICTIM_PASSWORD) == 302
    assert links(actions, "owner@example.com") == []


def _age_signups(app: Flask, hours: int) -> None:
    with app.app_context(), new_session() as session:
        session.execute(update(User).values(created_at=utcnow() - timedelta(hours=hours)))
        session.commit()


def test_cwe_287_unverified_signup_expires(actions: Actions, app: Flask) -> None:
    """A sign-up nobody confirmed within the link lifetime is gone: its password no longer
    reaches even the "confirm your email" page, and it can no longer be confirmed."""
    signup(app, "stale@example.com", ATTACKER_PASSWORD)
    link = links(actions, "stale@example.com")[-1]
    _age_signups(app, 25)
    assert login_status(app, "stale@example.com", ATTACKER_PASSWORD) == 401
    assert confirm(app, link, ATTACKER_PASSWORD) == 400
    assert not actions.user("stale@example.com").is_verified


def _pending_2fa(app: Flask) -> tuple[Actions, str]:
    """A browser that passed the password step of a 2FA user; the TOTP secret."""
    owner = Actions(app, app.test_client())
    user = owner.create_user("two@example.com", totp=True)
    half = Actions(app, app.test_client())
    assert half.sign_in("two@example.com").location == "/login/2fa"
    return half, str(user.totp_secret)


def _sign_in_fully(app: Flask, secret: str) -> Actions:
    owner = Actions(app, app.test_client())
    assert owner.sign_in("two@example.com").location == "/login/2fa"
    assert owner.enter_code(current_code(secret)).status_code == 302
    # The code above spent this time step; let the half-done browser use it too, so only the
    # sign-out (not replay protection) can stop it.
    with app.app_context(), new_session() as session:
        session.execute(update(User).values(totp_last_step=None))
        session.commit()
    return owner


def test_cwe_613_pending_2fa_dies_with_sign_out_everywhere(app: Flask) -> None:
    half, secret = _pending_2fa(app)
    owner = _sign_in_fully(app, secret)
    assert owner.post("/settings/sessions/revoke-all", form_path="/settings").status_code == 302
    finish = half.client.post(
        "/login/2fa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": _token(half)}
    )
    assert finish.location == "/login"
    assert half.client.get("/settings").status_code == 302


def test_cwe_613_pending_2fa_dies_with_password_change(app: Flask) -> None:
    half, secret = _pending_2fa(app)
    owner = _sign_in_fully(app, secret)
    changed = owner.post("/settings/password", password="a brand new passphrase here")
    assert changed.status_code == 302
    finish = half.client.post(
        "/login/2fa", data={"code": pyotp.TOTP(secret).now(), "csrf_token": _token(half)}
    )
    assert finish.location == "/login"
    assert half.client.get("/settings").status_code == 302


def _token(actions: Actions) -> str:
    """A CSRF token of this browser without visiting /login/2fa (which may redirect)."""
    return csrf_token(actions.client, "/signup")


def test_cwe_770_signup_is_throttled_per_client(actions: Actions, app: Flask) -> None:
    answers = [
        actions.post("/signup", email=f"stranger{n}@example.com", password=PASSWORD).status_code
        for n in range(40)
    ]
    limit = app.config["SIGNUP_MAX_PER_IP"]
    assert answers[:limit] == [200] * limit
    assert set(answers[limit:]) == {429}
    mailed = sum(len(actions.mails(f"stranger{n}@example.com")) for n in range(40))
    assert mailed == limit


def test_cwe_770_email_change_confirmations_are_capped_per_recipient(
    actions: Actions, app: Flask
) -> None:
    actions.create_user()
    actions.sign_in()
    app.config["EMAIL_CHANGE_MAX_PER_HOUR"] = 100  # the per-account throttle is not this cap
    for _ in range(20):
        answer = actions.post("/settings/email", email="stranger@example.com")
        assert answer.status_code == 200
    assert len(actions.mails("stranger@example.com")) == app.config["MAIL_PER_HOUR"]


def test_cwe_770_burned_mail_budget_does_not_silence_security_notices(
    actions: Actions, app: Flask
) -> None:
    """Unsolicited mail is capped per recipient; a notice about a change made in one's own
    account still goes out, or an attacker could spend the cap first and then act unseen."""
    actions.create_user()
    for _ in range(8):
        signup(app, "user@example.com", ATTACKER_PASSWORD)
    assert len(actions.mails("user@example.com")) == app.config["MAIL_PER_HOUR"]
    actions.sign_in()
    assert actions.post("/settings/password", password="a brand new passphrase").status_code == 302
    assert "Your password was changed" in [m.subject for m in actions.mails("user@example.com")]


@contextmanager
def counted(app: Flask) -> Iterator[dict[str, Any]]:
    """Count SQL statements (by kind), password hashes and mails while inside."""
    seen: dict[str, Any] = {"sql": [], "hashes": 0}
    engine = gateway_db.engine(app)

    def on_execute(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen["sql"].append(statement.split(None, 1)[0].upper())

    real_hash = signups.hash_password

    def hashing(password: str) -> str:
        seen["hashes"] += 1
        return real_hash(password)

    event.listen(engine, "before_cursor_execute", on_execute)
    signups.hash_password = hashing  # type: ignore[assignment]
    try:
        yield seen
    finally:
        signups.hash_password = real_hash  # type: ignore[assignment]
        event.remove(engine, "before_cursor_execute", on_execute)


def test_cwe_208_resend_does_the_same_work_for_every_address(actions: Actions, app: Flask) -> None:
    actions.create_user("verified@example.com")
    actions.create_user("pending@example.com", verified=False)
    actions.create_user("expired@example.com", verified=False)
    with app.app_context(), new_session() as session:
        session.execute(
            update(User).where(User.email == "expired@example.com")
            .values(created_at=utcnow() - timedelta(hours=25))
        )
        session.commit()
    work = {}
    warm_up = {"email": "warm-up@example.com", "csrf_token": _token(actions)}
    assert actions.client.post("/verify-email/resend", data=warm_up).status_code == 200
    for email in ("nobody@example.com", "verified@example.com", "pending@example.com",
                  "expired@example.com"):
        token = _token(actions)
        with counted(app) as seen:
            response = actions.client.post(
                "/verify-email/resend", data={"email": email, "csrf_token": token}
            )
        assert response.status_code == 200
        work[email] = (seen["sql"], len(actions.mails(email)))
    assert len(set(map(repr, work.values()))) == 1, work
    assert work["pending@example.com"][1] == 1


def test_cwe_208_signup_does_the_same_work_for_every_address(actions: Actions, app: Flask) -> None:
    actions.create_user("verified@example.com")
    actions.create_user("pending@example.com", verified=False)
    pages, work = set(), {}
    for email in ("new@example.com", "verified@example.com", "pending@example.com"):
        with counted(app) as seen:
            pages.add(signup(app, email, VICTIM_PASSWORD))
        work[email] = (seen["hashes"], len(actions.mails(email)))
    assert len(pages) == 1
    assert set(work.values()) == {(1, 1)}, work


def test_signup_throttle_and_mail_cap_have_settings(database_url: str) -> None:
    app = make_gateway_app(database_url, SIGNUP_MAX_PER_IP=2, MAIL_PER_HOUR=1)
    visitor = Actions(app, app.test_client())
    codes = [
        visitor.post("/signup", email="same@example.com", password=PASSWORD).status_code
        for _ in range(3)
    ]
    assert codes == [200, 200, 429]
    assert len(visitor.mails("same@example.com")) == 1
