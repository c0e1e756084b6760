"""Attack-run findings 7 and 13 (issue 10): overlapping email changes, and an app started
without an explicit environment.

7. A second email change requested while the first was applying recorded the address of
   before the first, and its compensation wrote that stale address back into a product
   (Console B, SendGrid B, Segment A). Over the real stack: the saga restores the address the
   Console held when applying began, and refuses a new change or confirmation meanwhile.
13. The README's deployment commands ran with ``APP_ENV`` unset, i.e. development (demo
    secret, public mailbox). Every app now defaults to production, which refuses demo secrets;
    ``app.py`` says ``demo`` itself and generates its demo secrets per run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import select

import app as demo_runner
from config import DEMO_MARKER, ConfigError
from gateway import create_app, db
from gateway.db import new_session
from gateway.keys.store import KeyStore
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


def test_cwe_362_overlapping_email_changes_end_consistent_everywhere(
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


def test_cwe_362_no_new_change_or_confirmation_while_one_is_applying(
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


def test_cwe_362_compensation_restores_the_address_held_when_applying_began(
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


# --- finding 13: no environment means production ---------------------------------------------


def test_cwe_1188_gateway_without_app_env_is_production_and_refuses_demo_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="refusing to start in production"):
        create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/g.db"})
    keys = str(tmp_path / "keys")
    KeyStore(keys).init()  # the operator's `flask keys init`: a real signing key
    real = {"SECRET_KEY": "k" * 40, "SEGMENT_SCIM_TOKEN": "s" * 40, "SENDGRID_SCIM_TOKEN": "t" * 40,
            "ASSERTION_KEY_DIR": keys, "DATABASE_URL": f"sqlite:///{tmp_path}/g.db",
            "SUPPORT_EMAIL": "help@example.com",  # production names a support route too
            "SMTP_HOST": "mail.example"}  # and sends its mail
    app = create_app(real)
    assert app.config["APP_ENV"] == "production"
    assert app.test_client().get("/dev/mailbox").status_code == 404  # no public mailbox
    db.engine(app).dispose()


@pytest.mark.parametrize("name", ["segment", "sendgrid"])
def test_cwe_1188_product_without_app_env_is_production_and_refuses_demo_secrets(
    monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    from config.products import load_product

    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv(f"{name.upper()}_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="refusing to start in production"):
        load_product(name, {"DATABASE_URL": "sqlite://"}, port=5001)


def test_cwe_798_demo_runner_generates_its_secrets_per_run() -> None:
    names = {"SEGMENT_SCIM_TOKEN", "SENDGRID_SCIM_TOKEN"}
    first, second = demo_runner.demo_secrets({}), demo_runner.demo_secrets({})
    assert set(first) == set(second) == names
    for name in names:
        assert first[name] != second[name]
        assert first[name].startswith(DEMO_MARKER)  # still refused in production
        assert len(first[name]) >= 32 + len(DEMO_MARKER)
    assert set(demo_runner.demo_secrets({"SEGMENT_SCIM_TOKEN": "mine"})) == names - {
        "SEGMENT_SCIM_TOKEN"}  # an operator's value is kept


def test_cwe_1188_demo_runner_says_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("APP_ENV", raising=False)
    environ: dict[str, str] = {}
    monkeypatch.setattr(os, "environ", environ)
    demo_runner.demo_environment()
    assert environ["APP_ENV"] == "demo"
    assert environ["SEGMENT_SCIM_TOKEN"].startswith(DEMO_MARKER)
