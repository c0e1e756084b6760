"""Operator roles: the CLI that hands out the first owner, and what holding a role demands
(a second factor, set up at the next sign-in before anything else)."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from gateway.db import new_session
from gateway.identity.roles import Action, Role, may, may_act_on
from gateway.models import AuditEvent, User
from tests.support.console import Actions


def _role(app: Flask, email: str) -> str | None:
    with app.app_context(), new_session() as session:
        return session.scalars(select(User.role).where(User.email == email)).one()


def test_cli_grants_revokes_and_lists_roles_audited(
    app: Flask, actions: Actions, runner: Any
) -> None:
    actions.create_user("ops@example.com")
    result = runner.invoke(args=["roles", "grant", "OPS@example.com", "owner"])
    assert result.exit_code == 0, result.output
    assert "second factor" in result.output
    assert _role(app, "ops@example.com") == "owner"
    listed = runner.invoke(args=["roles", "list"])
    assert "owner" in listed.output and "ops@example.com" in listed.output
    assert runner.invoke(args=["roles", "revoke", "ops@example.com"]).exit_code == 0
    assert _role(app, "ops@example.com") is None
    with app.app_context(), new_session() as session:
        events = list(session.scalars(select(AuditEvent.event).order_by(AuditEvent.id)))
    assert events == ["role_granted", "role_revoked"]


def test_cli_refuses_unknown_roles_and_accounts(app: Flask, actions: Actions, runner: Any) -> None:
    actions.create_user("ops@example.com")
    assert runner.invoke(args=["roles", "grant", "ops@example.com", "root"]).exit_code != 0
    assert runner.invoke(args=["roles", "grant", "nobody@example.com", "admin"]).exit_code != 0
    assert _role(app, "ops@example.com") is None


def test_role_holder_without_second_factor_must_enrol_before_any_page(
    app: Flask, actions: Actions, runner: Any
) -> None:
    actions.create_user("ops@example.com")
    runner.invoke(args=["roles", "grant", "ops@example.com", "support"])
    assert actions.sign_in("ops@example.com").status_code == 302
    for path in ("/", "/settings/sessions", "/admin/people"):
        answer = actions.client.get(path)
        assert answer.status_code == 302, path
        assert answer.headers["Location"].endswith("/settings/2fa/enable"), path
    assert actions.client.get("/settings/2fa/enable").status_code == 200


def test_roles_contain_the_lower_ones_and_never_reach_up() -> None:
    def user(role: Role | None) -> User:
        return User(email="x@example.com", password_hash="", role=role.label if role else None)

    support, admin, owner = user(Role.SUPPORT), user(Role.ADMIN), user(Role.OWNER)
    assert may(support, Action.SEND_RESET) and not may(support, Action.DISABLE)
    assert may(admin, Action.DISABLE) and not may(admin, Action.GRANT_ROLE)
    assert not may(user(None), Action.READ)
    assert not may_act_on(admin, Action.DISABLE, user(Role.ADMIN))
    assert not may_act_on(admin, Action.DISABLE, owner)
    assert not may_act_on(support, Action.SEND_RESET, user(Role.SUPPORT))
    assert may_act_on(owner, Action.DISABLE, user(Role.OWNER))
    assert may_act_on(support, Action.READ, owner)
