"""The refusal of an email-change claim, seen without products: the message must describe
what blocked the claim at the moment it was looked at, even if that blocker ends a moment
later (the background repair settles interrupted changes at any time). And that repair: on a
timer in every serving process, whatever traffic it serves, each change rolled back once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from gateway.db import new_session
from gateway.models import AuditEvent, EmailChange, EmailChangeStep, utcnow
from gateway.products import propagation
from gateway.products.propagation import (
    IN_PROGRESS,
    ChangeState,
    EmailChangeError,
    Refusal,
    StepState,
)
from tests.support.console import Actions, make_gateway_app
from tests.support.stack import free_port


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


def _repair_ends_right_after_settling(monkeypatch: pytest.MonkeyPatch, change_id: str) -> None:
    """The background repair (its own session) ends ``change_id`` just after the claim has
    looked at its blockers."""
    settle = propagation._settle_stale_blockers

    def repair_finishes_meanwhile(change: EmailChange) -> object:
        seen = settle(change)
        with new_session() as session:
            session.execute(update(EmailChange).where(EmailChange.id == change_id)
                            .values(state=ChangeState.FAILED, claim=None))
            session.commit()
        return seen

    monkeypatch.setattr(propagation, "_settle_stale_blockers", repair_finishes_meanwhile)


def test_refusal_names_the_undo_even_if_it_ends_right_after(
    app: Flask, blocked: tuple[str, str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, undoing_id, pending_id = blocked
    _repair_ends_right_after_settling(monkeypatch, undoing_id)
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



def test_refusal_after_settling_describes_each_blocker_as_it_was(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stale blockers: this person's undo that cannot finish (Segment unreachable), then
    another person's interrupted claim on the address, which settles. Settling the second
    reloads every object in the session; the refusal must still name the first as it was."""
    app = make_gateway_app(database_url, SEGMENT_UPSTREAM=f"http://127.0.0.1:{free_port()}")
    actions = Actions(app, app.test_client())
    me = actions.create_user("me@example.com")
    other = actions.create_user("other@example.com")
    long_ago = utcnow() - timedelta(hours=1)
    with app.app_context(), new_session() as session:
        mine = EmailChange(user_id=me.id, old_email=me.email, new_email="first@example.com",
                           state=ChangeState.COMPENSATING, claim="first@example.com",
                           created_at=long_ago, updated_at=long_ago)
        mine.steps.append(EmailChangeStep(product="segment", product_user_id="seg-1",
                                          state=StepState.APPLYING))
        theirs = EmailChange(user_id=other.id, old_email=other.email,
                             new_email="wanted@example.com", state=ChangeState.APPLYING,
                             claim="wanted@example.com", created_at=long_ago + timedelta(seconds=1),
                             updated_at=long_ago)
        pending = EmailChange(user_id=me.id, old_email=me.email, new_email="wanted@example.com")
        session.add_all([mine, theirs, pending])
        session.commit()
        mine_id, pending_id = mine.id, pending.id
    _repair_ends_right_after_settling(monkeypatch, mine_id)  # Segment came back meanwhile
    with app.test_request_context():
        user = propagation.db().get(propagation.User, me.id)
        with pytest.raises(EmailChangeError) as refused:
            propagation.confirm_change(user, {"cid": pending_id, "uid": me.id, "jti": pending_id})
        assert refused.value.message == propagation.UNDOING
        # The other person's interrupted claim was settled on the way: the address is free.
        assert propagation.db().get(EmailChange, pending_id).state == ChangeState.PENDING
        claims = propagation.db().scalars(select(EmailChange.claim).where(
            EmailChange.claim == "wanted@example.com")).all()
        assert claims == []


def _interrupted_change(app: Flask, email: str) -> str:
    """A change left ``applying`` an hour ago by a process that died."""
    user = Actions(app, app.test_client()).create_user(email)
    long_ago = utcnow() - timedelta(hours=1)
    with app.app_context(), new_session() as session:
        change = EmailChange(user_id=user.id, old_email=user.email, new_email="new@example.com",
                             state=ChangeState.APPLYING, claim="new@example.com",
                             created_at=long_ago, updated_at=long_ago)
        session.add(change)
        session.commit()
        return change.id


def _state(app: Flask, change_id: str) -> str:
    with app.app_context(), new_session() as session:
        change = session.get(EmailChange, change_id)
        assert change is not None
        return change.state


def test_repair_runs_on_a_timer_when_only_proxied_traffic_arrives(database_url: str) -> None:
    # Behind the built-in proxy a process may serve nothing but product pages: the repair must
    # not wait for a Console page (the proxy answers before any later request hook runs).
    app = make_gateway_app(database_url, background_work=True, BACKGROUND_INTERVAL_SECONDS=3600,
                   SEGMENT_UPSTREAM=f"http://127.0.0.1:{free_port()}")
    change_id = _interrupted_change(app, "proxied@example.com")
    assert app.test_client().get("/segment/dashboard").status_code == 401  # the proxy answered
    deadline = time.monotonic() + 10
    # Until the repair is through: applying, then compensating (seen under load), then failed.
    while _state(app, change_id) in IN_PROGRESS and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _state(app, change_id) == ChangeState.FAILED  # rolled back: nothing had changed


def test_repairs_running_in_several_processes_roll_each_change_back_once(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every worker process runs the repair: while one rolls a change back, another process's
    repair (its own engine here) must leave that change alone."""
    app = make_gateway_app(database_url)
    other_process = make_gateway_app(database_url)
    change_id = _interrupted_change(app, "twice@example.com")
    compensate = propagation._compensate
    interleaved: list[bool] = []

    def other_process_repairs_meanwhile(change: EmailChange, reason: str) -> bool:
        if not interleaved:  # once: the other process's own roll-back is not interleaved
            interleaved.append(True)
            with other_process.app_context():
                propagation.repair()
        return compensate(change, reason)

    monkeypatch.setattr(propagation, "_compensate", other_process_repairs_meanwhile)
    with app.app_context():
        assert propagation.repair() == 1
    assert _state(app, change_id) == ChangeState.FAILED
    with app.app_context(), new_session() as session:
        rolled_back = session.scalars(select(AuditEvent).where(
            AuditEvent.event == "email_change_failed")).all()
    assert len(rolled_back) == 1
