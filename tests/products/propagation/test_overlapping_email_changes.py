"""Overlapping email changes end consistent everywhere: no new change or confirmation while one
is being applied, and compensation restores the address held when applying began (issue 10's
attack run, finding 7).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

from gateway import db
from gateway.db import new_session
from gateway.models import EmailChange, User, utcnow
from tests.support import people
from tests.support.linked_person import Person, make_person, unique_email
from tests.support.stack import Stack, running_stack

BEING_CHANGED = "being changed right now"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with running_stack(str(tmp_path_factory.mktemp("saga")),
                       EMAIL_CHANGE_STALE_SECONDS="30") as running:
        yield running


@pytest.fixture
def person(stack: Stack) -> Iterator[Person]:
    yield make_person(stack, "saga")
    for product in ("segment", "sendgrid"):
        people.set_faults(stack, product, [])


@pytest.fixture
def gateway_db(stack: Stack) -> Iterator[Any]:
    """An in-process gateway app on the stack's database (to watch or seed saga rows)."""
    app = stack.app("gateway")
    with app.app_context():
        yield app
    db.engine(app).dispose()


def _state_of(new_email: str) -> str | None:
    with new_session() as session:
        query = select(EmailChange.state).where(EmailChange.new_email == new_email)
        return session.scalars(query).first()


@pytest.mark.cwe(362)
def test_overlapping_email_changes_end_consistent_everywhere(
    person: Person, stack: Stack, gateway_db: Any
) -> None:
    """The attack run: change A -> B is applying (SendGrid slow) when A -> C is asked for; C
    then fails after Segment took it. Every part of the system must end on one address."""
    first, second = unique_email("first"), unique_email("second")
    assert person.ask_for(first).status_code == 200
    people.set_faults(stack, "sendgrid", [], delay_seconds=1)  # slow, within the API timeout
    outcome: dict[str, requests.Response] = {}
    applying = threading.Thread(target=lambda: outcome.update(first=person.confirm(first)))
    applying.start()
    deadline = time.monotonic() + 20
    while _state_of(first) != "applying" and applying.is_alive():
        assert time.monotonic() < deadline
        time.sleep(0.02)
    overlapping = person.ask_for(second)
    applying.join()
    assert outcome["first"].status_code == 200, outcome["first"].text
    if overlapping.status_code == 200:  # asked after all (slow machine): must still end well
        people.set_faults(stack, "sendgrid", ["scim_patch"])  # Segment changes, SendGrid fails
        assert person.confirm(second).status_code == 503
    else:
        assert overlapping.status_code == 409 and BEING_CHANGED in overlapping.text
    assert person.emails() == {"console": first, "segment": first, "sendgrid": first}


@pytest.mark.cwe(362)
def test_no_new_change_or_confirmation_while_one_is_applying(
    person: Person, gateway_db: Any
) -> None:
    pending = unique_email("pending")
    assert person.ask_for(pending).status_code == 200
    with new_session() as session:  # another change of this person is being applied
        running = EmailChange(user_id=person.console_id, old_email=person.email,
                              new_email=unique_email("running"), state="applying",
                              updated_at=utcnow())
        running.claim = running.new_email
        session.add(running)
        session.commit()
        running_id = running.id
    try:
        confirmed = person.confirm(pending)
        assert confirmed.status_code == 409 and BEING_CHANGED in confirmed.text
        asked = person.ask_for(unique_email("another"))
        assert asked.status_code == 409 and BEING_CHANGED in asked.text
        assert set(person.emails().values()) == {person.email}
    finally:
        with new_session() as session:
            session.get(EmailChange, running_id).state = "failed"  # type: ignore[union-attr]
            session.get(EmailChange, running_id).claim = None  # type: ignore[union-attr]
            session.commit()


@pytest.mark.cwe(362)
def test_compensation_restores_the_address_held_when_applying_began(
    person: Person, stack: Stack, gateway_db: Any
) -> None:
    """A pending change outlives a change that moved the person to B everywhere (the race the
    refusal above narrows); when it fails midway it must put back B, not the older A."""
    late = unique_email("late")
    moved = unique_email("moved")
    assert person.ask_for(late).status_code == 200
    with new_session() as session:  # the earlier change finished meanwhile: B everywhere
        user = session.get(User, person.console_id)
        assert user is not None
        user.email = moved
        session.commit()
    for product, product_user_id in person.product_ids.items():
        answer = stack.scim(product).patch(
            stack.url(product) + f"/scim/v2/Users/{product_user_id}",
            json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                  "Operations": [{"op": "replace", "path": "userName", "value": moved}]},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
    people.set_faults(stack, "sendgrid", ["scim_patch"])  # Segment changes, SendGrid fails
    assert person.confirm(late).status_code == 503
    assert person.emails() == {"console": moved, "segment": moved, "sendgrid": moved}
