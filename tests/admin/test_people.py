"""The operator console's People pages: search, a person's page, and each action with its
effect on the account (the row, the sessions, the mail, the person's own activity page)."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import select

from gateway.db import new_session
from gateway.models import AuditEvent, LoginSession, PasskeyCredential, ProductLink, User
from tests.support.console import Actions, csrf_token, lock_out
from tests.support.operators import Operator, reload, signed_in_operator


@pytest.fixture
def admin(app: Flask) -> Operator:
    return signed_in_operator(app, "admin@example.com", "admin")


def person_path(user: User) -> str:
    return f"/admin/people/{user.id}"


def act(op: Operator, target: User, action: str, reason: str = "ticket 42") -> object:
    path = person_path(target)
    return op.actions.client.post(f"{path}/{action}", data={
        "csrf_token": csrf_token(op.actions.client, path), f"{action}-reason": reason})


def test_search_finds_by_email_part_id_and_product_user_id(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com")
    with app.app_context(), new_session() as session:
        session.add(ProductLink(user_id=pat.id, product="segment", product_user_id="seg-77"))
        session.commit()
    for query in ("PAT@", pat.id, "seg-77"):
        page = admin.actions.client.get("/admin/people", query_string={"q": query})
        assert page.status_code == 200
        assert person_path(pat) in page.get_data(as_text=True), query
    page = admin.actions.client.get("/admin/people", query_string={"q": "%"})
    assert person_path(pat) not in page.get_data(as_text=True)  # a wildcard is a character


def test_person_page_shows_status_factors_sessions_links(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com", totp=True)
    lock_out(app, "pat@example.com")
    page = admin.actions.client.get(person_path(pat)).get_data(as_text=True)
    assert "Locked out" in page and "authenticator app" in page and "Verified" in page


def test_disable_ends_sessions_refuses_sign_in_and_tells_the_person(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com")
    actions.sign_in("pat@example.com")
    assert actions.client.get("/settings").status_code == 200
    answer = act(admin, pat, "disable")
    assert answer.status_code == 302
    assert reload(app, pat.id).disabled_at is not None
    assert actions.client.get("/settings").status_code == 302  # the session is gone
    refused = actions.sign_in("pat@example.com")
    assert refused.status_code == 403 and "disabled" in refused.get_data(as_text=True)
    mail = actions.mails("pat@example.com")[-1]
    assert mail.subject == "Your account was disabled" and "admin@" not in mail.body
    with app.app_context(), new_session() as session:
        row = session.scalars(select(AuditEvent).where(
            AuditEvent.event == "account_disabled")).one()
    assert row.user_id == pat.id and row.actor_id == admin.id and "ticket 42" in row.detail
    act(admin, pat, "enable")
    assert reload(app, pat.id).disabled_at is None
    actions.sign_in("pat@example.com")
    activity = actions.client.get("/settings/activity").get_data(as_text=True)
    assert "Account disabled by the site&#39;s support team" in activity
    assert "admin@example.com" not in activity


def test_reset_2fa_removes_every_factor_and_the_next_sign_in_enrols(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com", totp=True)
    with app.app_context(), new_session() as session:
        session.add(PasskeyCredential(user_id=pat.id, credential_id="c1", public_key=b"k"))
        session.commit()
    assert act(admin, pat, "reset-2fa").status_code == 302
    after = reload(app, pat.id)
    assert after.totp_secret is None and after.must_enrol_2fa
    with app.app_context(), new_session() as session:
        assert not session.scalars(select(PasskeyCredential)).all()
    assert actions.mails("pat@example.com")[-1].subject.startswith("Your two-factor")
    assert actions.sign_in("pat@example.com").status_code == 302  # the password alone now
    answer = actions.client.get("/")
    assert answer.headers["Location"].endswith("/settings/2fa/enable")


def test_send_reset_mails_a_working_link_and_lift_lockout_lets_the_person_in(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com")
    lock_out(app, "pat@example.com")
    assert act(admin, pat, "lift-lockout").status_code == 302
    assert actions.sign_in("pat@example.com").status_code == 302
    act(admin, pat, "send-reset")
    link = actions.mailed_link("pat@example.com")
    assert link.startswith("/reset-password?token=")
    assert actions.client.get(link).status_code == 200


def test_resend_verification_only_for_an_unconfirmed_address(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com", verified=False)
    act(admin, pat, "resend-verification")
    assert "/verify-email" in actions.mailed_link("pat@example.com")


def test_an_action_without_a_reason_changes_nothing(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com")
    assert act(admin, pat, "disable", reason="   ").status_code in (302, 400)
    assert reload(app, pat.id).disabled_at is None


def test_row_actions_end_a_session_and_unlink(
    app: Flask, actions: Actions, admin: Operator
) -> None:
    pat = actions.create_user("pat@example.com")
    actions.sign_in("pat@example.com")
    with app.app_context(), new_session() as session:
        session.add(ProductLink(user_id=pat.id, product="segment", product_user_id="seg-9"))
        sid = session.scalars(select(LoginSession.public_id).where(
            LoginSession.user_id == pat.id)).one()
        session.commit()
    path = person_path(pat)
    token = csrf_token(admin.actions.client, path)
    page = admin.actions.client.get(path).get_data(as_text=True)
    assert re.search(f"sessions/{sid}/revoke", page)
    for url in (f"{path}/sessions/{sid}/revoke", f"{path}/links/segment/unlink"):
        answer = admin.actions.client.post(url, data={"csrf_token": token, "row-reason": "r"})
        assert answer.status_code == 302, url
    assert actions.client.get("/settings").status_code == 302
    with app.app_context(), new_session() as session:
        assert not session.scalars(select(ProductLink)).all()
