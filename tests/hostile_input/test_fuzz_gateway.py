"""Property-based fuzzing of every Console form of the gateway (CSRF on).

Most examples carry a valid CSRF token so the hostile values reach the view itself. Whatever
the input: never a 5xx, never a stack trace, and a rejected request (4xx) leaves the gateway's
state tables (users, sessions, links, codes, tokens, outbox, email changes) unchanged.
"""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from hypothesis import event, given
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from tests.hostile_input.strategies import FUZZ, form_fields, path_segment, text
from tests.support.console import PASSWORD, make_gateway_app
from tests.support.csrf import csrf_token
from tests.support.product_servers import Person
from tests.support.snapshots import assert_no_trace, gateway_snapshot

with_token = st.sampled_from([True, True, True, True, False])
raw_bodies = st.tuples(
    st.sampled_from(
        [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data",
            "multipart/form-data; boundary=x",
            "text/plain",
            "application/x-www-form-urlencoded; charset=utf-16",
        ]
    ),
    st.one_of(
        st.binary(max_size=200),
        st.just(b"email=%ED%A0%80&password=%C3%28&next=%00"),
        st.just(b'{"email": ["a"], "password": {"x": 1}}'),
        st.just(b"--x\r\nContent-Disposition: form-data; name=\"email\"\r\n\r\n\x00\r\n--x--"),
    ),
)


@pytest.fixture
def fuzz_app(database_url: str) -> Flask:
    """The gateway with throttling out of the way (lockouts are tested elsewhere)."""
    return make_gateway_app(database_url, LOGIN_MAX_FAILURES=100_000, IP_MAX_ATTEMPTS=100_000)


@pytest.fixture
def person(fuzz_app: Flask) -> Person:
    person = Person(fuzz_app, fuzz_app.test_client())
    person.sign_up_and_in("fuzz@example.com")
    return person


def _signed_in(person: Person) -> None:
    """Sign back in without the password (a fuzzed password change may have succeeded)."""
    if person.client.get("/settings").status_code != 200:
        person.force_session(person.user(person.email))


def check(app: Flask, send: Any) -> TestResponse:
    before = gateway_snapshot(app)
    response: TestResponse = send()
    event(f"status {response.status_code}")
    body = response.get_data(as_text=True)
    assert response.status_code < 500, (response.status_code, body[:500])
    assert_no_trace(body)
    if 400 <= response.status_code < 500:
        assert gateway_snapshot(app) == before, response.status_code
    return response


def _post(person: Person, path: str, fields: dict[str, Any], token: bool) -> TestResponse:
    data = dict(fields)
    if token:
        signed_in = person.client.get("/login").status_code == 302
        data["csrf_token"] = csrf_token(person.client, "/" if signed_in else "/login")
    return person.client.post(path, data=data)


ANONYMOUS = {
    "/signup": ["email", "password"],
    "/login": ["email", "password", "next"],
    "/verify-email": ["token", "password"],
    "/verify-email/resend": ["email"],
    "/forgot-password": ["email"],
    "/reset-password": ["token", "password", "code"],
}


@FUZZ
@given(
    path=st.sampled_from(sorted(ANONYMOUS)),
    data=st.data(),
    token=with_token,
)
def test_fuzz_anonymous_forms(fuzz_app: Flask, path: str, data: Any, token: bool) -> None:
    visitor = Person(fuzz_app, fuzz_app.test_client())
    fields = data.draw(form_fields(ANONYMOUS[path]))
    response = check(fuzz_app, lambda: _post(visitor, path, fields, token))
    if response.status_code in (301, 302, 303, 307, 308):
        assert response.headers["Location"].startswith("/")
        assert not response.headers["Location"].startswith(("//", "/\\"))


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["next", "login_hint", "token"]), text, max_size=3))
def test_fuzz_login_and_verify_queries(fuzz_app: Flask, query: dict[str, str]) -> None:
    client = fuzz_app.test_client()
    for path in ("/login", "/verify-email", "/signup"):
        response = check(fuzz_app, lambda path=path: client.get(path, query_string=query))
        assert response.status_code in (200, 302, 400)


@FUZZ
@given(fields=form_fields(["code"]), token=with_token)
def test_fuzz_second_factor(fuzz_app: Flask, fields: dict[str, Any], token: bool) -> None:
    person = Person(fuzz_app, fuzz_app.test_client())
    if person.client.application.config.setdefault("FUZZ_TOTP_USER", False) is False:
        person.create_user("totp@example.com", totp=True)
        fuzz_app.config["FUZZ_TOTP_USER"] = True
    assert person.sign_in("totp@example.com").status_code == 302
    for path in ("/login/2fa", "/login/2fa/recovery"):
        response = check(fuzz_app, lambda path=path: _post(person, path, fields, token))
        assert response.status_code in (302, 400, 401)


SIGNED_IN = {
    "/settings/reauthenticate": ["password", "code", "next"],
    "/settings/password": ["password"],
    "/settings/2fa/enable": ["code"],
    "/settings/2fa/disable": [],
    "/settings/2fa/recovery-codes": [],
    "/settings/2fa/recovery-codes/download": ["codes"],
    "/settings/devices/forget-all": [],
    "/settings/sessions/revoke-all": [],
    "/upgrade": ["plan"],
    "/logout": ["next"],
}


@FUZZ
@given(path=st.sampled_from(sorted(SIGNED_IN)), data=st.data(), token=with_token)
def test_fuzz_signed_in_forms(person: Person, path: str, data: Any, token: bool) -> None:
    _signed_in(person)
    fields = data.draw(form_fields(SIGNED_IN[path]))
    check(person.app, lambda: _post(person, path, fields, token))


@FUZZ
@given(public_id=text, token=with_token)
def test_fuzz_session_revoke_ids(person: Person, public_id: str, token: bool) -> None:
    _signed_in(person)
    path = f"/settings/sessions/{path_segment(public_id)}/revoke"
    response = check(person.app, lambda: _post(person, path, {}, token))
    assert response.status_code in (308, 400, 404)  # 308: an encoded "/" merged by routing


@FUZZ
@given(
    name=st.one_of(st.sampled_from(["segment", "sendgrid", "SEGMENT"]), text),
    action=st.sampled_from(["existing", "new"]),
    data=st.data(),
    token=with_token,
)
def test_fuzz_link_forms(
    linked_gateway: Flask, name: str, action: str, data: Any, token: bool
) -> None:
    person = Person(linked_gateway, linked_gateway.test_client())
    if person.client.get("/settings").status_code != 200:
        try:
            user = person.user("linker@example.com")
        except Exception:  # noqa: BLE001 - first example
            user = person.create_user("linker@example.com")
        person.email = "linker@example.com"
        person.force_session(user)
    fields = data.draw(form_fields(["email", "password", "next"]))
    path = f"/link/{path_segment(name)}/{action}"
    check(linked_gateway, lambda: _post(person, path, fields, token))
    check(linked_gateway, lambda: person.client.get(
        f"/link/{path_segment(name)}", query_string={"next": fields.get("next", "")}))


@FUZZ
@given(body=raw_bodies, path=st.sampled_from(sorted(ANONYMOUS | SIGNED_IN)))
def test_fuzz_raw_bodies(person: Person, body: tuple[str, bytes], path: str) -> None:
    _signed_in(person)
    content_type, raw = body
    check(person.app, lambda: person.client.post(path, data=raw, content_type=content_type))


def test_a_correct_password_still_signs_in(fuzz_app: Flask) -> None:
    """Sanity check of the fixtures above: the fuzzers really reach the views."""
    person = Person(fuzz_app, fuzz_app.test_client())
    person.create_user("sane@example.com")
    assert person.sign_in("sane@example.com", PASSWORD).status_code == 302
