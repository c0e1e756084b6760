"""The operator's own sessions page shows admin sessions apart: the rule is that a session
becomes an admin session once a role holder opened a page under /admin/ with it
(``sessions.mark_admin_session``); the role holder's other sessions stay ordinary ones."""

from __future__ import annotations

import re

from flask import Flask
from sqlalchemy import update

from gateway.db import new_session
from gateway.models import User
from tests.support.console import Actions, current_code
from tests.support.operators import signed_in_operator


def _groups(page: str) -> tuple[str, str]:
    """The admin table and the rest of the page after it."""
    match = re.search(r'<table class="stack" data-testid="admin-sessions">(.*?)</table>(.*)',
                      page, re.S)
    assert match, page[:3000]
    return match.group(1), match.group(2)


def test_a_session_that_opened_the_console_is_listed_apart_as_admin_session(
    app: Flask
) -> None:
    op = signed_in_operator(app, "admin@example.com", "admin")
    laptop = Actions(app, app.test_client())  # the same person in another browser
    with app.app_context(), new_session() as session:  # the next code is another time step
        session.execute(update(User).values(totp_last_step=None))
        session.commit()
    laptop.sign_in("admin@example.com")
    assert op.user.totp_secret is not None
    assert laptop.enter_code(current_code(op.user.totp_secret)).status_code == 302

    before = laptop.client.get("/settings/sessions").get_data(as_text=True)
    assert 'data-testid="admin-sessions"' not in before  # signed in is not yet admin

    assert op.actions.client.get("/admin/people").status_code == 200
    page = laptop.client.get("/settings/sessions").get_data(as_text=True)
    admin_table, rest = _groups(page)
    assert "Admin session" in admin_table and "This browser" not in admin_table
    assert admin_table.count("/revoke") == 1  # one session, and it can be signed out
    assert "This browser" in rest and "Admin session" not in rest


def test_a_person_without_a_role_never_gets_an_admin_session(
    app: Flask, actions: Actions
) -> None:
    actions.create_user("pat@example.com")
    actions.sign_in("pat@example.com")
    assert actions.client.get("/admin/people").status_code == 403
    page = actions.client.get("/settings/sessions").get_data(as_text=True)
    assert "Admin session" not in page and 'data-testid="admin-sessions"' not in page
