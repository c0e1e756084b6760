"""SCIM 2.0 Users: CRUD, filter, paging, uniqueness, auth, errors, ETags."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.product_apps import Helper

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def user_body(email: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER], "userName": email, **extra}


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def assert_error(response: Any, status: int, scim_type: str | None = None) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/scim+json"
    data = response.get_json(force=True)
    assert data["schemas"] == [ERROR] and data["status"] == str(status)
    if scim_type:
        assert data["scimType"] == scim_type


def test_create_get_and_representation(h: Helper) -> None:
    response = h.scim("POST", "/Users", user_body(" New.User@Example.COM ", externalId="c-1"))
    assert response.status_code == 201
    assert response.mimetype == "application/scim+json"
    data = response.get_json(force=True)
    assert data["userName"] == "new.user@example.com"
    # One stored address; a client's "primary" flag is checked but not stored, so not echoed.
    assert data["emails"] == [{"value": "new.user@example.com", "type": "work"}]
    assert data["externalId"] == "c-1" and data["active"] is True
    meta = data["meta"]
    assert meta["resourceType"] == "User"
    assert meta["location"] == f"http://localhost/scim/v2/Users/{data['id']}"
    assert response.headers["Location"] == meta["location"]
    assert meta["version"].startswith('W/"') and response.headers["ETag"] == meta["version"]
    assert meta["created"].endswith("Z") and meta["lastModified"].endswith("Z")
    fetched = h.scim("GET", f"/Users/{data['id']}")
    assert fetched.status_code == 200 and fetched.get_json(force=True) == data


def test_created_user_owns_a_free_container_and_has_no_password(h: Helper) -> None:
    data = h.create_scim_user("fresh@example.com")
    user = h.user("fresh@example.com")
    assert user.created_by_console and user.password_hash is None
    headers = h.assertion(data["id"], "c-9")
    assert h.client.get("/", headers=headers).status_code == 401  # not linked yet
    linked = h.create_scim_user("fresh2@example.com", "c-10")
    page = h.client.get("/", headers=h.assertion(linked["id"], "c-10")).get_data(as_text=True)
    assert "fresh2@example.com" in page and "owner" in page and "free plan" in page


def test_get_unknown_is_404(h: Helper) -> None:
    assert_error(h.scim("GET", "/Users/doesnotexist"), 404)


def test_filter_by_username_is_case_insensitive(h: Helper) -> None:
    h.create_scim_user("findme@example.com", "c-find")
    for value in ("findme@example.com", "FindMe@Example.com"):
        data = h.scim("GET", f'/Users?filter=userName eq "{value}"').get_json(force=True)
        assert (
            data["totalResults"] == 1 and data["Resources"][0]["userName"] == "findme@example.com"
        )
    by_external = h.scim("GET", '/Users?filter=externalId eq "c-find"').get_json(force=True)
    assert by_external["totalResults"] == 1
    none = h.scim("GET", '/Users?filter=userName eq "nobody@example.com"').get_json(force=True)
    assert none["totalResults"] == 0 and none["Resources"] == []


@pytest.mark.parametrize(
    "bad", ['userName co "a"', "userName eq", 'name.givenName eq "x"', "garbage", "x" * 1000]
)
def test_unsupported_filter_is_400(h: Helper, bad: str) -> None:
    assert_error(h.scim("GET", f"/Users?filter={bad}"), 400, "invalidFilter")


def test_paging(h: Helper) -> None:
    for i in range(5):
        h.create_scim_user(f"page{i}@example.com")
    total = h.scim("GET", "/Users").get_json(force=True)["totalResults"]
    first = h.scim("GET", "/Users?startIndex=1&count=2").get_json(force=True)
    second = h.scim("GET", "/Users?startIndex=3&count=2").get_json(force=True)
    assert first["totalResults"] == second["totalResults"] == total
    assert first["itemsPerPage"] == 2 and first["startIndex"] == 1
    assert {u["id"] for u in first["Resources"]}.isdisjoint(u["id"] for u in second["Resources"])
    zero = h.scim("GET", "/Users?count=0").get_json(force=True)
    assert zero["Resources"] == [] and zero["totalResults"] == total
    low = h.scim("GET", "/Users?startIndex=-5&count=1").get_json(force=True)
    assert low["startIndex"] == 1
    assert_error(h.scim("GET", "/Users?count=abc"), 400, "invalidValue")


def test_put_replaces_email_and_active(h: Helper) -> None:
    data = h.create_scim_user("put@example.com", "c-put")
    response = h.scim(
        "PUT",
        f"/Users/{data['id']}",
        user_body("Put2@example.com", active=False, externalId="c-put"),
    )
    assert response.status_code == 200
    new = response.get_json(force=True)
    assert new["userName"] == "put2@example.com" and new["active"] is False
    assert new["meta"]["version"] != data["meta"]["version"]


@pytest.mark.parametrize(
    "operations,expected",
    [
        ([{"op": "replace", "path": "userName", "value": "p2@example.com"}], "p2@example.com"),
        (
            [
                {
                    "op": "replace",
                    "path": "emails",
                    "value": [{"value": "P3@example.com", "primary": True}],
                }
            ],
            "p3@example.com",
        ),
        (
            [{"op": "replace", "path": 'emails[type eq "work"].value', "value": "p4@example.com"}],
            "p4@example.com",
        ),
        ([{"op": "Replace", "value": {"userName": "p5@example.com"}}], "p5@example.com"),
        (
            [
                {
                    "op": "replace",
                    "value": {"emails": [{"value": "p6@example.com"}], "nickName": "x"},
                }
            ],
            "p6@example.com",
        ),
    ],
    ids=["userName", "emails", "emails-value-path", "path-less", "path-less-unknown-ignored"],
)
def test_patch_email(h: Helper, operations: list[dict[str, Any]], expected: str) -> None:
    data = h.create_scim_user("p1@example.com")
    response = h.scim("PATCH", f"/Users/{data['id']}", patch_body(*operations))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json(force=True)["userName"] == expected
    assert h.scim("GET", f"/Users/{data['id']}").get_json(force=True)["userName"] == expected


@pytest.mark.parametrize("value", [False, "False"])
def test_patch_active(h: Helper, value: Any) -> None:
    data = h.create_scim_user("act@example.com")
    body = patch_body({"op": "replace", "path": "active", "value": value})
    assert h.scim("PATCH", f"/Users/{data['id']}", body).get_json(force=True)["active"] is False
    body = patch_body({"op": "replace", "value": {"active": True}})
    assert h.scim("PATCH", f"/Users/{data['id']}", body).get_json(force=True)["active"] is True


def test_delete(h: Helper) -> None:
    data = h.create_scim_user("del@example.com")
    response = h.scim("DELETE", f"/Users/{data['id']}")
    assert response.status_code == 204 and response.data == b""
    assert_error(h.scim("GET", f"/Users/{data['id']}"), 404)
    assert_error(h.scim("DELETE", f"/Users/{data['id']}"), 404)


@pytest.mark.parametrize("how", ["POST", "PUT", "PATCH", "PATCH-emails", "POST-case"])
def test_uniqueness_409(h: Helper, how: str) -> None:
    taken = h.password_user[0]
    data = h.create_scim_user("mine@example.com")
    if how == "POST":
        response = h.scim("POST", "/Users", user_body(taken))
    elif how == "POST-case":
        response = h.scim("POST", "/Users", user_body(" " + taken.upper()))
    elif how == "PUT":
        response = h.scim("PUT", f"/Users/{data['id']}", user_body(taken))
    elif how == "PATCH":
        op = {"op": "replace", "path": "userName", "value": taken.title()}
        response = h.scim("PATCH", f"/Users/{data['id']}", patch_body(op))
    else:
        op = {"op": "replace", "path": "emails", "value": [{"value": taken}]}
        response = h.scim("PATCH", f"/Users/{data['id']}", patch_body(op))
    assert_error(response, 409, "uniqueness")
    assert (
        h.scim("GET", f"/Users/{data['id']}").get_json(force=True)["userName"] == "mine@example.com"
    )


def test_external_id_uniqueness_and_mutability(h: Helper) -> None:
    h.create_scim_user("one@example.com", "c-same")
    assert_error(h.scim("POST", "/Users", user_body("two@example.com", externalId="c-same")), 409)
    data = h.create_scim_user("three@example.com", "c-three")
    op = {"op": "replace", "path": "externalId", "value": "c-other"}
    assert_error(h.scim("PATCH", f"/Users/{data['id']}", patch_body(op)), 400, "mutability")


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": "Basic abc"},
        {"Authorization": "Bearer"},
    ],
    ids=["missing", "wrong", "basic", "empty"],
)
@pytest.mark.parametrize("path", ["/Users", "/ServiceProviderConfig", "/Users/x"])
def test_token_required(h: Helper, headers: dict[str, str], path: str) -> None:
    response = h.client.get("/scim/v2" + path, headers=headers)
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_other_products_token_is_refused(h: Helper) -> None:
    other = "sendgrid" if h.product == "segment" else "segment"
    response = h.client.get("/scim/v2/Users", headers=h.bearer(f"demo-insecure-{other}-scim-token"))
    assert_error(response, 401)


@pytest.mark.parametrize(
    "raw",
    [b"{not json", b"[]", b'"string"', b"null", b"\xff\xfe", b""],
    ids=["malformed", "array", "string", "null", "bad-utf8", "empty"],
)
@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_malformed_json_is_400(h: Helper, raw: bytes, method: str) -> None:
    data = h.create_scim_user("mal@example.com")
    path = "/Users" if method == "POST" else f"/Users/{data['id']}"
    response = h.client.open(
        "/scim/v2" + path,
        method=method,
        data=raw,
        headers=h.bearer() | {"Content-Type": "application/scim+json"},
    )
    assert_error(response, 400, "invalidSyntax")


@pytest.mark.parametrize(
    "body,scim_type",
    [
        ({"userName": "a@example.com"}, "invalidSyntax"),
        ({"schemas": [USER]}, "invalidValue"),
        ({"schemas": [USER], "userName": 42}, "invalidValue"),
        ({"schemas": [USER], "userName": "not an email"}, "invalidValue"),
        ({"schemas": [USER], "userName": "a" * 300 + "@example.com"}, "invalidValue"),
        ({"schemas": [USER], "userName": "a@example.com", "active": "yes"}, "invalidValue"),
        ({"schemas": [USER], "userName": "a@example.com", "externalId": 7}, "invalidValue"),
        ({"schemas": [USER], "userName": "a@example.com", "emails": "x"}, "invalidValue"),
        (
            {
                "schemas": [USER],
                "userName": "a@example.com",
                "emails": [{"value": "b@example.com"}],
            },
            "invalidValue",
        ),
        ({"schemas": "nope", "userName": "a@example.com"}, "invalidSyntax"),
    ],
    ids=[
        "no-schemas",
        "no-userName",
        "userName-type",
        "userName-format",
        "userName-huge",
        "active-type",
        "externalId-type",
        "emails-type",
        "emails-mismatch",
        "schemas-type",
    ],
)
def test_bad_bodies_are_400(h: Helper, body: dict[str, Any], scim_type: str) -> None:
    assert_error(h.scim("POST", "/Users", body), 400, scim_type)


def test_unknown_attributes_are_ignored_on_create(h: Helper) -> None:
    body = user_body("unknown@example.com", nickName="x", password="secret", id="mine", meta={})
    data = h.scim("POST", "/Users", body).get_json(force=True)
    assert "nickName" not in data and "password" not in data and data["id"] != "mine"
    assert h.user("unknown@example.com").password_hash is None


@pytest.mark.parametrize(
    "operation,scim_type",
    [
        ({"op": "replace", "path": "nickName", "value": "x"}, "invalidPath"),
        ({"op": "replace", "path": 5, "value": "x"}, "invalidPath"),
        ({"op": "remove", "path": "userName"}, "mutability"),
        ({"op": "remove"}, "noTarget"),
        ({"op": "replace", "value": "not an object"}, "invalidValue"),
        ({"path": "userName", "value": "a@example.com"}, "invalidSyntax"),
        ({"op": "replace", "path": "active", "value": 1}, "invalidValue"),
    ],
    ids=[
        "unknown-path",
        "path-type",
        "remove",
        "remove-no-path",
        "value-type",
        "no-op",
        "active-type",
    ],
)
def test_bad_patch_is_400(h: Helper, operation: dict[str, Any], scim_type: str) -> None:
    data = h.create_scim_user("patchbad@example.com")
    assert_error(h.scim("PATCH", f"/Users/{data['id']}", patch_body(operation)), 400, scim_type)
    assert_error(h.scim("PATCH", f"/Users/{data['id']}", {"Operations": [operation]}), 400)
    assert_error(h.scim("PATCH", f"/Users/{data['id']}", patch_body()), 400, "invalidSyntax")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
def test_if_match(h: Helper, method: str) -> None:
    data = h.create_scim_user("etag@example.com")
    version = data["meta"]["version"]
    bodies = {
        "PUT": user_body("etag2@example.com"),
        "PATCH": patch_body({"op": "replace", "path": "active", "value": False}),
        "DELETE": None,
    }
    stale = h.scim(method, f"/Users/{data['id']}", bodies[method], **{"If-Match": 'W/"999"'})
    assert_error(stale, 412)
    assert h.scim("GET", f"/Users/{data['id']}").get_json(force=True) == data
    fresh = h.scim(method, f"/Users/{data['id']}", bodies[method], **{"If-Match": version})
    assert fresh.status_code in {200, 204}


def test_discovery_endpoints(h: Helper) -> None:
    spc = h.scim("GET", "/ServiceProviderConfig").get_json(force=True)
    assert spc["patch"]["supported"] and spc["etag"]["supported"] and spc["filter"]["supported"]
    assert not spc["bulk"]["supported"]
    types = h.scim("GET", "/ResourceTypes").get_json(force=True)
    assert types["Resources"][0]["endpoint"] == "/Users"
    assert h.scim("GET", "/ResourceTypes/User").get_json(force=True)["schema"] == USER
    schemas = h.scim("GET", "/Schemas").get_json(force=True)
    assert schemas["Resources"][0]["id"] == USER
    user_schema = h.scim("GET", f"/Schemas/{USER}").get_json(force=True)
    assert {a["name"] for a in user_schema["attributes"]} >= {"userName", "emails", "active"}
    assert_error(h.scim("GET", "/Schemas/urn:nope"), 404)
    assert_error(h.scim("GET", "/ResourceTypes/Group"), 404)
    assert_error(h.scim("GET", "/Groups"), 404)
    assert_error(h.scim("POST", "/ServiceProviderConfig", {}), 405)


@pytest.mark.parametrize("path", ["emails", 'emails[type eq "work"].value', "active", "userName"])
def test_patch_remove_of_a_required_attribute_is_400_mutability(h: Helper, path: str) -> None:
    data = h.create_scim_user("keep@example.com")
    body = patch_body({"op": "remove", "path": path})
    assert_error(h.scim("PATCH", f"/Users/{data['id']}", body), 400, "mutability")
    assert h.scim("GET", f"/Users/{data['id']}").get_json(force=True) == data


def test_patch_remove_external_id(h: Helper) -> None:
    """Unset: a no-op (RFC 7644 §3.5.2.2). Set: unlinking is refused (immutable)."""
    unlinked = h.create_scim_user("unlinked@example.com")
    body = patch_body({"op": "remove", "path": "externalId"})
    response = h.scim("PATCH", f"/Users/{unlinked['id']}", body)
    assert response.status_code == 200 and "externalId" not in response.get_json(force=True)
    assert_error(
        h.scim(
            "PATCH", f"/Users/{unlinked['id']}", patch_body({"op": "remove", "path": "nickName"})
        ),
        400,
        "invalidPath",
    )
    linked = h.create_scim_user("linkedrm@example.com", "c-rm")
    assert_error(h.scim("PATCH", f"/Users/{linked['id']}", body), 400, "mutability")
    assert h.scim("GET", f"/Users/{linked['id']}").get_json(force=True)["externalId"] == "c-rm"


def test_attributes_and_excluded_attributes(h: Helper) -> None:
    """RFC 7644 §3.9: on GET by id, on the list and on write responses; id/schemas always."""
    data = h.create_scim_user("shape@example.com", "c-shape")
    user = f"/Users/{data['id']}"
    only = h.scim("GET", f"{user}?attributes=userName,emails.value").get_json(force=True)
    assert only == {
        "schemas": [USER],
        "id": data["id"],
        "userName": "shape@example.com",
        "emails": [{"value": "shape@example.com"}],
    }
    urn = h.scim("GET", f"{user}?attributes={USER}:externalId").get_json(force=True)
    assert set(urn) == {"schemas", "id", "externalId"}
    without = h.scim("GET", f"{user}?excludedAttributes=emails,meta.created,id").get_json(
        force=True
    )
    assert "emails" not in without and without["id"] == data["id"]
    assert "created" not in without["meta"] and "version" in without["meta"]
    listed = h.scim(
        "GET", '/Users?filter=userName eq "shape@example.com"&attributes=active'
    ).get_json(force=True)
    assert listed["Resources"] == [{"schemas": [USER], "id": data["id"], "active": True}]
    patched = h.scim(
        "PATCH",
        f"{user}?excludedAttributes=emails",
        patch_body({"op": "replace", "path": "active", "value": False}),
    )
    assert patched.status_code == 200 and "emails" not in patched.get_json(force=True)
    both = h.scim("GET", f"{user}?attributes=userName&excludedAttributes=emails")
    assert_error(both, 400, "invalidValue")


@pytest.mark.parametrize("path", ["/.search", "/Users/.search"])
def test_post_search_is_501(h: Helper, path: str) -> None:
    assert_error(h.scim("POST", path, {"schemas": [SEARCH]}), 501)


def test_schema_publishes_what_the_store_holds(h: Helper) -> None:
    schema = h.scim("GET", f"/Schemas/{USER}").get_json(force=True)
    attributes = {a["name"]: a for a in schema["attributes"]}
    assert attributes["externalId"]["mutability"] == "immutable"
    assert attributes["emails"]["required"] and attributes["active"]["required"]
    assert {a["name"] for a in attributes["emails"]["subAttributes"]} == {"value", "type"}
