"""Hostile input: missing CSRF, huge fields, unicode, wrong types -> 4xx, never a 500."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

from tests.support.console import Actions

#: Every state-changing Console form (path, fields) - a POST without the CSRF token is a 400.
FORMS = [
    ("/signup", {"email": "csrf@example.com", "password": "a long enough password"}),
    ("/login", {"email": "user@example.com", "password": "correct horse battery staple"}),
    ("/login/2fa", {"code": "123456"}),
    ("/logout", {}),
    ("/verify-email", {"token": "x"}),
    ("/verify-email/resend", {"email": "user@example.com"}),
    ("/settings/reauthenticate", {"password": "correct horse battery staple"}),
    ("/settings/password", {"password": "another long password"}),
    ("/settings/sessions/revoke-all", {}),
    ("/settings/sessions/0123456789abcdef0123456789abcdef/revoke", {}),
    ("/settings/2fa/enable", {"code": "123456"}),
    ("/settings/2fa/disable", {}),
    ("/settings/2fa/recovery-codes", {}),
]


@pytest.mark.parametrize(("path", "data"), FORMS, ids=[p for p, _ in FORMS])
def test_missing_csrf_token_is_400_and_changes_nothing(
    actions: Actions, path: str, data: dict[str, str]
) -> None:
    actions.create_user()
    actions.sign_in()
    response = actions.client.post(path, data=data)
    assert response.status_code == 400
    assert "Traceback" not in response.get_data(as_text=True)
    assert actions.client.get("/").status_code == 200  # still signed in, nothing revoked
    assert actions.mails("csrf@example.com") == []


HOSTILE_VALUES = [
    "x" * 100_000,
    "\x00\x01\x02",
    "' OR 1=1 --",
    "<script>alert(1)</script>",
    "🙂" * 500,
    "e\u0301" * 50,
]


@pytest.mark.parametrize("value", HOSTILE_VALUES, ids=range(len(HOSTILE_VALUES)))
@pytest.mark.parametrize("path", ["/signup", "/login", "/verify-email/resend"])
def test_hostile_form_values_are_4xx(actions: Actions, path: str, value: str) -> None:
    response = actions.post(path, form_path="/login", email=value, password=value, next=value)
    assert 400 <= response.status_code < 500, response.status_code
    body = response.get_data(as_text=True)
    assert "Traceback" not in body and "<script>alert" not in body


@pytest.mark.parametrize(
    "query",
    ["token=" + "A" * 5000, "token=%00", "token[]=1&token=2", "token=..%2F..%2Fetc"],
    ids=["huge", "nul", "array", "traversal"],
)
def test_hostile_verification_tokens(actions: Actions, query: str) -> None:
    response = actions.client.get("/verify-email?" + query)
    assert response.status_code == 400


def test_invalid_utf8_form_body_is_4xx(actions: Actions) -> None:
    from tests.support.csrf import csrf_token

    token = csrf_token(actions.client, "/login")
    body = b"csrf_token=" + token.encode() + b"&email=%ED%A0%80%FF&password=%C3%28"
    response = actions.client.post(
        "/login", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert 400 <= response.status_code < 500


def test_json_body_to_form_endpoint_is_4xx(actions: Actions) -> None:
    response = actions.client.post("/login", json={"email": ["a"], "password": {"x": 1}})
    assert response.status_code == 400


def test_oversized_form_is_413(actions: Actions) -> None:
    response = actions.client.post("/login", data={"email": "x" * 200_000})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


class _ChunkedForm(io.RawIOBase):
    """A chunked client body ``email=xxx...`` of ``size`` bytes, counting what was read of it."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.left, self.head, self.sent = size, b"email=", 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        data, self.head = self.head or b"x" * min(len(buffer), self.left, 1 << 16), b""
        data = data[: self.left]
        buffer[: len(data)] = data
        self.left -= len(data)
        self.sent += len(data)
        return len(data)


@pytest.mark.parametrize("size", [200_000, 40 * 1024 * 1024], ids=["buffered", "streamed"])
def test_oversized_chunked_form_is_413_unread(app: Flask, size: int) -> None:
    """A chunked form has no Content-Length to check: the limit holds on what arrives, and a
    huge one is refused after at most a buffer's worth was read, never read whole."""
    environ = EnvironBuilder(path="/login", method="POST").get_environ()
    body = _ChunkedForm(size)
    environ.pop("CONTENT_LENGTH", None)
    environ |= {
        "CONTENT_TYPE": "application/x-www-form-urlencoded",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input_terminated": True,
        "wsgi.input": io.BufferedReader(body),
    }
    statuses: list[str] = []
    b"".join(app.wsgi_app(environ, lambda status, *_: statuses.append(status)))
    assert statuses[0].startswith("413")
    assert body.sent <= app.config["REQUEST_BODY_BUFFER"] + 128 * 1024


def test_unknown_page_and_method(actions: Actions) -> None:
    assert actions.client.get("/nope").status_code == 404
    assert actions.client.put("/login").status_code == 405
    json_404 = actions.client.get("/nope", headers={"Accept": "application/json"})
    assert json_404.get_json()["status"] == 404
