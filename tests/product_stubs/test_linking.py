"""Internal linking endpoints and the test-only fault switch."""

from __future__ import annotations

from typing import Any

import pytest

from config.products import ProductTestSwitches
from tests.support.product_apps import Helper, make_product_app

JSON = {"Accept": "application/json"}


def verify(h: Helper, email: Any, password: Any, token: str | None = None) -> Any:
    return h.client.post(
        "/internal/link/verify",
        json={"email": email, "password": password},
        headers=h.bearer(token),
    )


def test_verify_right_password(h: Helper) -> None:
    email, password = h.password_user
    response = verify(h, email.upper(), password)
    assert response.status_code == 200
    assert response.get_json() == {"id": h.user(email).id, "email": email, "external_id": None}


@pytest.mark.parametrize(
    "case", ["wrong-password", "unknown-email", "console-created", "bad-email"]
)
def test_verify_failures_are_generic(h: Helper, case: str) -> None:
    email, password = h.password_user
    if case == "wrong-password":
        response = verify(h, email, "wrong password")
    elif case == "unknown-email":
        response = verify(h, "nobody@example.com", password)
    elif case == "bad-email":
        response = verify(h, "not an email", password)
    else:
        h.create_scim_user("console@example.com")
        response = verify(h, "console@example.com", "")
    assert response.status_code == 401 and response.get_json() == {"error": "invalid_credentials"}


def test_link_then_old_password_refused_and_sessions_ended(h: Helper) -> None:
    email, password = h.password_user
    h.sign_in(email, password)
    assert h.client.get("/", headers=JSON).status_code == 200
    user_id = h.user(email).id
    response = h.link(user_id, "console-42", by=email)
    assert response.status_code == 200
    assert response.get_json() == {"id": user_id, "email": email, "external_id": "console-42"}
    # The session opened before the link is over.
    assert h.client.get("/", headers=JSON).status_code == 401
    # The product password no longer works: the login page sends the person to the gateway.
    attempt = h.app.test_client().post(
        "/login", data={"step": "password", "email": email, "password": password}
    )
    assert attempt.status_code == 302 and attempt.headers["Location"].startswith(
        "http://127.0.0.1:5000/login?login_hint="
    )
    assert verify(h, email, password).status_code == 401
    assert h.user(email).password_hash is None
    # The gateway's identity now works, and the settings page shows the audit entry.
    page = h.client.get("/settings", headers=h.assertion(user_id, "console-42", "/settings"))
    assert f"linked to unified login by {email} at " in page.get_data(as_text=True)


def test_user_created_from_the_console_has_an_audit_entry(h: Helper) -> None:
    created = h.create_scim_user("made@example.com", "console-77")
    page = h.client.get("/settings", headers=h.assertion(created["id"], "console-77", "/settings"))
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Account history" in text
    assert "created from unified login by made@example.com at " in text
    # A user made by SCIM without a Console user (not from the Console) gets no such entry;
    # linking it later records the link instead.
    plain = h.create_scim_user("plain@example.com")
    patched = h.scim("PATCH", f"/Users/{plain['id']}", {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "externalId", "value": "console-78"}],
    })
    assert patched.status_code == 200
    text = h.client.get(
        "/settings", headers=h.assertion(plain["id"], "console-78", "/settings")
    ).get_data(as_text=True)
    assert "created from unified login" not in text
    assert "linked to unified login by provisioning API at " in text


def test_relink_same_pair_is_idempotent(h: Helper) -> None:
    user_id = h.user(h.password_user[0]).id
    assert h.link(user_id, "console-1").status_code == 200
    again = h.link(user_id, "console-1")
    assert again.status_code == 200 and again.get_json()["external_id"] == "console-1"


def test_link_to_another_console_user_is_409(h: Helper) -> None:
    user_id = h.user(h.password_user[0]).id
    assert h.link(user_id, "console-1").status_code == 200
    response = h.link(user_id, "console-2")
    assert response.status_code == 409 and response.get_json() == {"error": "already_linked"}
    assert h.user(h.password_user[0]).external_id == "console-1"


def test_console_user_links_only_one_product_user(h: Helper) -> None:
    emails = list(h.password_user_emails())
    assert h.link(h.user(emails[0]).id, "console-1").status_code == 200
    response = h.link(h.user(emails[1]).id, "console-1")
    assert response.status_code == 409


def test_link_unknown_user_is_404(h: Helper) -> None:
    assert h.link("0" * 32, "console-1").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"product_user_id": 1, "console_user_id": "c", "linked_by_email": "a@b.c"},
        {"product_user_id": "x", "console_user_id": ["c"], "linked_by_email": "a@b.c"},
        {"product_user_id": "x" * 100, "console_user_id": "c", "linked_by_email": "a@b.c"},
        [],
    ],
)
def test_link_bad_bodies_are_400(h: Helper, body: Any) -> None:
    response = h.client.post("/internal/link", json=body, headers=h.bearer())
    assert response.status_code == 400
    verify_response = h.client.post("/internal/link/verify", json=body, headers=h.bearer())
    assert verify_response.status_code == 400


@pytest.mark.parametrize(
    "path", ["/internal/link", "/internal/link/verify", "/internal/test/faults"]
)
@pytest.mark.parametrize("token", [None, "wrong-token"])
def test_internal_endpoints_need_the_token(h: Helper, path: str, token: str | None) -> None:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = h.client.post(path, json={}, headers=headers)
    assert response.status_code == 401 and response.get_json() == {"error": "unauthorized"}


def test_fault_switch(h: Helper) -> None:
    data = h.create_scim_user("fault@example.com")
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "userName", "value": "f2@example.com"}],
    }
    on = h.client.post(
        "/internal/test/faults", json={"fail": ["scim_patch", "scim_put"]}, headers=h.bearer()
    )
    assert on.status_code == 200
    assert h.scim("PATCH", f"/Users/{data['id']}", body).status_code == 500
    assert h.scim("PUT", f"/Users/{data['id']}", {}).status_code == 500
    assert (
        h.scim("GET", f"/Users/{data['id']}").get_json(force=True)["userName"]
        == "fault@example.com"
    )
    off = h.client.post("/internal/test/faults", json={"fail": []}, headers=h.bearer())
    assert off.status_code == 200
    assert h.scim("PATCH", f"/Users/{data['id']}", body).status_code == 200


@pytest.mark.parametrize(
    "body",
    [
        {"fail": ["drop_tables"]},
        {"fail": "scim_patch"},
        {"delay_seconds": "1"},
        {"delay_seconds": 99},
    ],
)
def test_fault_switch_validates(h: Helper, body: Any) -> None:
    assert h.client.post("/internal/test/faults", json=body, headers=h.bearer()).status_code == 400


@pytest.mark.parametrize("env", ["development", "demo", "test"])
def test_fault_switch_absent_unless_a_test_fixture_asks(
    module: Any, product: str, tmp_path: Any, env: str
) -> None:
    # Not even APP_ENV=test opens it: only ProductTestSwitches(fault_endpoint=True) does.
    app = make_product_app(module, product, tmp_path, ProductTestSwitches(), APP_ENV=env)
    assert "internal_test.set_faults" not in app.view_functions
    client = app.test_client()
    headers = {"Authorization": f"Bearer {app.config['SCIM_TOKEN']}"}
    response = client.post("/internal/test/faults", json={"fail": ["scim_patch"]}, headers=headers)
    assert response.status_code == 404
