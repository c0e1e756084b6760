"""Operators for the admin-console tests: an account holding a role, with an authenticator
app set up, signed in with both factors in a client of its own."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask
from sqlalchemy import update

from gateway.db import new_session
from gateway.models import User
from tests.support.console import Actions, current_code


@dataclass
class Operator:
    actions: Actions
    user: User

    @property
    def id(self) -> str:
        return self.user.id


def grant(app: Flask, user_id: str, role: str | None) -> None:
    with app.app_context(), new_session() as session:
        session.execute(update(User).where(User.id == user_id).values(role=role))
        session.commit()


def reload(app: Flask, user_id: str) -> User:
    """The account as the database holds it now."""
    with app.app_context(), new_session() as session:
        user = session.get(User, user_id)
        assert user is not None
        session.expunge(user)
        return user


def signed_in_operator(app: Flask, email: str, role: str) -> Operator:
    """A ``role`` holder with TOTP, signed in (password + code) in a new client."""
    actions = Actions(app, app.test_client())
    user = actions.create_user(email, totp=True)
    grant(app, user.id, role)
    actions.sign_in(email)
    assert user.totp_secret is not None
    answer = actions.enter_code(current_code(user.totp_secret))
    assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
    return Operator(actions, user)
