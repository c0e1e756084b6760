"""Hostile input gets a 4xx, never a 500; configuration comes from the environment."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from config.products import load_product
from tests.support.corpora import BAD_HOSTS
from tests.support.product_apps import Helper
from tests.support.wsgi_call import wsgi_get

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
user_like = st.fixed_dictionaries(
    {"schemas": st.just(["urn:ietf:params:scim:schemas:core:2.0:User"])},
    optional={
        "userName": json_values | st.emails(),
        "emails": json_values,
        "active": json_values,
        "externalId": json_values,
    },
)
patch_like = st.fixed_dictionaries(
    {
        "schemas": st.just(["urn:ietf:params:scim:api:messages:2.0:PatchOp"]),
        "Operations": st.lists(
            st.dictionaries(
                st.sampled_from(["op", "path", "value"]),
                json_values | st.sampled_from(["replace", "add", "userName", "active", "emails"]),
            ),
            max_size=3,
        ),
    }
)
FUZZ = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@FUZZ
@given(body=json_values | user_like)
def test_scim_post_never_500(h: Helper, body: Any) -> None:
    response = h.scim("POST", "/Users", body)
    assert response.status_code in {201, 400, 409}


@FUZZ
@given(body=patch_like | json_values)
def test_scim_patch_never_500(h: Helper, body: Any) -> None:
    user_id = h.user(h.password_user[0]).id
    response = h.scim("PATCH", f"/Users/{user_id}", body)
    assert response.status_code in {200, 400, 409}


@FUZZ
@given(body=json_values)
def test_internal_never_500(h: Helper, body: Any) -> None:
    for path in ("/internal/link", "/internal/link/verify"):
        response = h.client.post(path, json=body, headers=h.bearer())
        assert response.status_code in {400, 401, 404, 409}


@FUZZ
@given(email=st.text(max_size=300), password=st.text(max_size=100), step=st.text(max_size=10))
def test_login_form_never_500(h: Helper, email: str, password: str, step: str) -> None:
    response = h.client.post("/login", data={"email": email, "password": password, "step": step})
    assert response.status_code in {200, 302, 400, 429}


@pytest.mark.parametrize("path", ["/scim/v2/Users", "/login", "/internal/link", "/signup"])
def test_oversized_bodies_are_413(h: Helper, path: str) -> None:
    response = h.client.post(
        path, data=b"x" * (300 * 1024), headers=h.bearer() | {"Content-Type": "application/json"}
    )
    assert response.status_code == 413


@pytest.mark.parametrize(
    "email",
    ["alice\u200b@example.com", "alice@example.com\x00", "\u202ealice@x.com", "аlice@example.com"],
    ids=["zero-width", "nul", "bidi", "cyrillic-a"],
)
def test_unicode_tricks_are_refused(h: Helper, email: str) -> None:
    assert h.client.post("/login", data={"email": email}).status_code == 400
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": email}
    assert h.scim("POST", "/Users", body).status_code == 400


def test_full_width_look_alike_is_the_same_user(h: Helper) -> None:
    email = h.password_user[0]
    full_width = "".join(chr(ord(c) + 0xFEE0) if c.isalpha() else c for c in email.split("@")[0])
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": full_width + "@" + email.split("@")[1],
    }
    assert h.scim("POST", "/Users", body).status_code == 409


def test_unknown_routes_and_methods(h: Helper) -> None:
    assert h.client.get("/nope", headers={"Accept": "text/html"}).status_code == 404
    assert h.client.delete("/login").status_code == 405
    assert h.client.get("/internal/link", headers=h.bearer()).status_code == 405


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, product: str) -> None:
    upper = product.upper()
    monkeypatch.setenv(f"{upper}_DATABASE_URL", "sqlite:///elsewhere.db")
    monkeypatch.setenv(f"{upper}_SCIM_TOKEN", "token-from-env")
    monkeypatch.setenv(f"{upper}_JWKS_FILE", "/etc/unified-login/jwks.json")
    monkeypatch.setenv("GATEWAY_INTERNAL_URL", "http://gateway.internal:5000/")
    monkeypatch.setenv(f"{upper}_PUBLIC_PREFIX", "/apps/x/")
    monkeypatch.setenv("GATEWAY_PUBLIC_URL", "https://login.example/")
    monkeypatch.setenv("APP_ENV", "demo")
    settings = load_product(product, port=5001)
    assert settings["DATABASE_URL"] == "sqlite:///elsewhere.db"
    assert settings["SCIM_TOKEN"] == "token-from-env"
    assert settings["JWKS_FILE"] == "/etc/unified-login/jwks.json"
    assert settings["GATEWAY_INTERNAL_URL"] == "http://gateway.internal:5000"
    assert settings["PUBLIC_PREFIX"] == "/apps/x"
    assert settings["GATEWAY_PUBLIC_URL"] == "https://login.example"
    assert settings["APP_ENV"] == "demo"



@pytest.mark.parametrize("host", [h for _, h in BAD_HOSTS], ids=[i for i, _ in BAD_HOSTS])
@pytest.mark.parametrize("path", ["/login", "/", "/nope", "/settings"])
def test_bad_host_is_400_with_a_page(h: Helper, path: str, host: str) -> None:
    """A Host no URL can be built from is the client's error, not a 500 of the error page.
    Called without the test client, which raises on such a Host itself (``wsgi_call``)."""
    response = wsgi_get(h.app, path, {"Host": host, "Accept": "text/html"})
    assert response.status_code == 400
    assert b"<html" in response.data.lower()
