"""Property-based fuzzing of the products' SCIM API and internal endpoints.

Whatever the body, query, path or bearer token: never a 5xx, never a stack trace, and a rejected
request (4xx) leaves every table of the product exactly as it was.
"""

from __future__ import annotations

import importlib
import json
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st

from product_stubs.kit.scim import PATCH_SCHEMA, USER_SCHEMA
from tests.hostile_input.strategies import FUZZ, emails, json_values, path_segment, text
from tests.support.product_apps import PRODUCTS, make_product_app
from tests.support.snapshots import assert_no_trace, product_snapshot

_SCHEMAS = st.one_of(st.just([USER_SCHEMA]), json_values)
user_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {"schemas": _SCHEMAS, "userName": st.one_of(emails, json_values)},
        optional={
            "emails": st.one_of(
                st.lists(
                    st.fixed_dictionaries(
                        {"value": st.one_of(emails, json_values)},
                        optional={"primary": json_values, "type": json_values},
                    ),
                    max_size=3,
                ),
                json_values,
            ),
            "active": json_values,
            "externalId": st.one_of(text, json_values),
            "id": json_values,
        },
    ),
)
operations = st.fixed_dictionaries(
    {"op": st.one_of(st.sampled_from(["replace", "add", "Replace", "remove"]), json_values)},
    optional={
        "path": st.one_of(
            st.sampled_from(["userName", "emails", 'emails[type eq "work"].value', "active",
                             "externalId"]),
            json_values,
        ),
        "value": st.one_of(emails, json_values),
    },
)
patch_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {
            "schemas": st.one_of(st.just([PATCH_SCHEMA]), json_values),
            "Operations": st.one_of(st.lists(operations, max_size=4), json_values),
        }
    ),
)
raw_bodies = st.one_of(
    st.binary(max_size=120),
    st.just(b"[" * 50_000),
    st.just(b'{"userName": ' + b"1" * 5000 + b"}"),
)
link_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "product_user_id": st.one_of(text, json_values),
            "console_user_id": st.one_of(text, json_values),
            "linked_by_email": st.one_of(emails, json_values),
            "email": st.one_of(emails, json_values),
            "password": st.one_of(text, json_values),
        },
    ),
)


@pytest.fixture(params=PRODUCTS)
def product_app(request: pytest.FixtureRequest, tmp_path: Any) -> Flask:
    module = importlib.import_module(f"product_stubs.{request.param}")
    return make_product_app(module, request.param, tmp_path)


def _send(app: Flask, method: str, path: str, body: Any = None, raw: bytes | None = None,
          token: str | None = None) -> None:
    client: FlaskClient = app.test_client()
    before = product_snapshot(app)
    data = raw if raw is not None else json.dumps(body).encode()
    response = client.open(
        path,
        method=method,
        data=data,
        headers={
            "Authorization": f"Bearer {token or app.config['SCIM_TOKEN']}",
            "Content-Type": "application/scim+json",
        },
    )
    assert response.status_code < 500, (response.status_code, response.get_data(as_text=True))
    assert_no_trace(response.get_data(as_text=True))
    if response.status_code >= 400:
        assert product_snapshot(app) == before, (method, path, response.status_code)


def _existing_id(app: Flask) -> str:
    bearer = {"Authorization": f"Bearer {app.config['SCIM_TOKEN']}"}
    answer = app.test_client().get("/scim/v2/Users", headers=bearer)
    resources = answer.get_json(force=True)["Resources"]
    return str(resources[0]["id"])


@FUZZ
@given(body=user_bodies)
def test_fuzz_scim_create(product_app: Flask, body: Any) -> None:
    _send(product_app, "POST", "/scim/v2/Users", body)


@FUZZ
@given(raw=raw_bodies, method=st.sampled_from(["POST", "PUT", "PATCH"]))
def test_fuzz_scim_raw_bodies(product_app: Flask, raw: bytes, method: str) -> None:
    path = "/scim/v2/Users" if method == "POST" else f"/scim/v2/Users/{_existing_id(product_app)}"
    _send(product_app, method, path, raw=raw)


@FUZZ
@given(body=user_bodies, hostile_id=st.one_of(st.none(), text))
def test_fuzz_scim_replace(product_app: Flask, body: Any, hostile_id: str | None) -> None:
    user_id = _existing_id(product_app) if hostile_id is None else path_segment(hostile_id)
    _send(product_app, "PUT", f"/scim/v2/Users/{user_id}", body)


@FUZZ
@given(body=patch_bodies, hostile_id=st.one_of(st.none(), text))
def test_fuzz_scim_patch(product_app: Flask, body: Any, hostile_id: str | None) -> None:
    user_id = _existing_id(product_app) if hostile_id is None else path_segment(hostile_id)
    _send(product_app, "PATCH", f"/scim/v2/Users/{user_id}", body)


@FUZZ
@given(
    hostile_id=text,
    method=st.sampled_from(["GET", "DELETE"]),
)
def test_fuzz_scim_user_ids(product_app: Flask, hostile_id: str, method: str) -> None:
    _send(product_app, method, f"/scim/v2/Users/{path_segment(hostile_id)}")


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["filter", "startIndex", "count", "attributes", "sortBy"]),
        st.one_of(
            text,
            st.integers().map(str),
            st.builds(lambda a, v: f'{a} eq "{v}"',
                      st.sampled_from(["userName", "externalId", "USERNAME", "emails"]), text),
        ),
        max_size=3,
    )
)
def test_fuzz_scim_list(product_app: Flask, query: dict[str, str]) -> None:
    _send(product_app, "GET", "/scim/v2/Users?" + urlencode(query))


@FUZZ
@given(
    body=link_bodies,
    path=st.sampled_from(["/internal/link", "/internal/link/verify", "/internal/test/faults"]),
)
def test_fuzz_internal_endpoints(product_app: Flask, body: Any, path: str) -> None:
    _send(product_app, "POST", path, body)
    product_app.extensions["product_faults"].update({"fail": [], "delay_seconds": 0})


@FUZZ
@given(
    token=text,
    path=st.sampled_from(["/scim/v2/Users", "/internal/link", "/internal/link/verify"]),
)
def test_fuzz_bearer_tokens(product_app: Flask, token: str, path: str) -> None:
    client = product_app.test_client()
    before = product_snapshot(product_app)
    raw = token.encode("utf-8").decode("latin-1").replace("\r", "").replace("\n", "")
    header = "Bearer " + raw  # a client cannot send a line break inside a header
    response = client.post(path, json={"userName": "x@example.com"},
                           headers={"Authorization": header})
    if raw.strip() != product_app.config["SCIM_TOKEN"]:
        assert response.status_code == 401
    assert_no_trace(response.get_data(as_text=True))
    assert product_snapshot(product_app) == before
