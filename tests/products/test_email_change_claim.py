"""The refusal of an email-change claim, seen without products: the message must describe
what blocked the claim at the moment it was looked at, even if that blocker ends a moment
later (the background repair settles interrupted changes at any time)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import update

from gateway.db import new_session
from gateway.models import EmailChange
from gateway.products import propagation
from gateway.products.propagation import ChangeState, EmailChangeError, Refusal
from tests.support.console import Actions


@pytest.fixture
def blocked(app: Flask, actions: Actions) -> Iterator[tuple[str, str, str]]:
    """A person whose earlier change is being undone, and a new pending change of theirs."""
    user = actions.create_user("claim@example.com")
    with app.app_context(), new_session() as session:
        undoing = EmailChange(user_id=user.id, old_email=user.email,
                              new_email="first@example.com", state=ChangeState.COMPENSATING,
                              claim="first@example.com")
        pending = EmailChange(user_id=user.id, old_email=user.email,
                              new_email="second@example.com")
        session.add_all([undoing, pending])
        session.commit()
        yield user.id, undoing.id, pending.id


def test_refusal_names_the_undo_even_if_it_ends_right_after(
    app: Flask, blocked: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, undoing_id, pending_id = blocked
    settle = propagation._settle_stale_blockers

    def repair_finishes_meanwhile(change: EmailChange) -> object:
        seen = settle(change)
        with new_session() as session:  # the background repair, in its own session
            session.execute(update(EmailChange).where(EmailChange.id == undoing_id)
                            .values(state=ChangeState.FAILED, claim=None))
            session.commit()
        return seen

    monkeypatch.setattr(propagation, "_settle_stale_blockers", repair_finishes_meanwhile)
    with app.test_request_context():
        user = propagation.db().get(propagation.User, user_id)
        with pytest.raises(EmailChangeError) as refused:
            propagation.confirm_change(user, {"cid": pending_id, "uid": user_id, "jti": pending_id})
    assert refused.value.refusal == Refusal.CONFLICT
    assert refused.value.message == propagation.UNDOING


def test_claim_is_taken_once_the_blocker_has_ended(
    app: Flask, blocked: tuple[str, str, str]
) -> None:
    user_id, undoing_id, pending_id = blocked
    with app.app_context(), new_session() as session:
        session.execute(update(EmailChange).where(EmailChange.id == undoing_id)
                        .values(state=ChangeState.FAILED, claim=None))
        session.commit()
    with app.test_request_context():
        user = propagation.db().get(propagation.User, user_id)
        link = {"cid": pending_id, "uid": user_id, "jti": pending_id}
        change = propagation.confirm_change(user, link)
        assert change.state == ChangeState.APPLIED  # no linked products: only the Console
        assert user.email == "second@example.com"
