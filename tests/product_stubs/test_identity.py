"""Accepting the gateway's identity assertion, and every way it is refused (401, no fallback)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from product_stubs.kit.db import session_factory
from product_stubs.kit.models import User
from tests.support.keys import craft, hs256_with_public_key, parts, shared_store, stranger_key
from tests.support.product_apps import Helper, make_product_app

JSON = {"Accept": "application/json"}


def test_valid_assertion_logs_in_the_linked_user(h: Helper) -> None:
    user_id, console_id = h.linked_user()
    response = h.client.get("/settings", headers=h.assertion(user_id, console_id, "/settings"))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "linked@example.com" in page and "Managed in the Console" in page
    assert 'href="http://127.0.0.1:5000/settings"' in page


def test_prefix_from_gateway_builds_public_urls(h: Helper) -> None:
    user_id, console_id = h.linked_user()
    headers = h.assertion(user_id, console_id, "/") | h.forwarded(
        "/", host="gateway.example", proto="https", **{"for": "203.0.113.7"}
    )
    page = h.client.get("/", headers=headers).get_data(as_text=True)
    assert f'href="/{h.product}/settings"' in page


def _expired(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return h.assertion(user_id, console_id, now=int(time.time()) - 120)


def _future(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return h.assertion(user_id, console_id, now=int(time.time()) + 120)


def _other_product(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    other = "sendgrid" if h.product == "segment" else "segment"
    return h.assertion(user_id, console_id, product=other)


def _other_issuer(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return h.assertion(user_id, console_id, issuer="https://evil.example")


def _unknown_kid(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return h.assertion(user_id, console_id, key=stranger_key())


def _forged(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    kid = shared_store().signing_key().kid
    return h.assertion(user_id, console_id, key=stranger_key(kid=kid))


def _tampered(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    token = h.assertion(user_id, console_id)["X-Identity-Assertion"]
    header, claims, signature = parts(token)
    return {"X-Identity-Assertion": craft(header, {**claims, "puid": "0" * 32}) + signature}


def _alg_none(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    header, claims, _ = parts(h.assertion(user_id, console_id)["X-Identity-Assertion"])
    return {"X-Identity-Assertion": craft({**header, "alg": "none"}, claims)}


def _hs256_with_public_key(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    token = h.assertion(user_id, console_id)["X-Identity-Assertion"]
    return {"X-Identity-Assertion": hs256_with_public_key(shared_store(), token)}


def _unknown_user(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return h.assertion("0" * 32, console_id)


def _wrong_console_user(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return h.assertion(user_id, "someone-else")


def _unlinked_user(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return h.assertion(h.user(h.password_user[0]).id, console_id)


def _other_path(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return h.assertion(user_id, console_id, path="/settings")


def _other_method(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return h.assertion(user_id, console_id, method="POST")


def _garbage(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return {"X-Identity-Assertion": "not.a.token"}


def _empty(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return {"X-Identity-Assertion": ""}


def _huge(h: Helper, user_id: str, console_id: str, _mp: Any) -> Any:
    return {"X-Identity-Assertion": "x" * 20000}


REJECTIONS: dict[str, Callable[..., Any]] = {
    "expired": _expired,
    "from-the-future": _future,
    "other-product-audience": _other_product,
    "other-issuer": _other_issuer,
    "unknown-kid": _unknown_kid,
    "forged-under-published-kid": _forged,
    "tampered-payload": _tampered,
    "alg-none": _alg_none,
    "hs256-with-public-key": _hs256_with_public_key,
    "unknown-user": _unknown_user,
    "wrong-console-user": _wrong_console_user,
    "unlinked-user": _unlinked_user,
    "other-path": _other_path,
    "other-method": _other_method,
    "garbage": _garbage,
    "empty": _empty,
    "huge": _huge,
}


@pytest.mark.parametrize("case", REJECTIONS, ids=list(REJECTIONS))
def test_rejected_assertion_is_401_without_fallback(
    h: Helper, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_id, console_id = h.linked_user()
    headers = REJECTIONS[case](h, user_id, console_id, monkeypatch)
    # Also holding a valid product session must not help: no fall back.
    h.sign_in(*h.password_user)
    assert h.client.get("/", headers=JSON).status_code == 200
    for accept in ("application/json", "text/html"):
        response = h.client.get("/", headers=headers | {"Accept": accept})
        assert response.status_code == 401, case
    assert h.client.get("/", headers=JSON).status_code == 200


def test_replayed_assertion_is_refused(h: Helper) -> None:
    user_id, console_id = h.linked_user()
    headers = h.assertion(user_id, console_id)
    assert h.client.get("/", headers=headers).status_code == 200
    assert h.client.get("/", headers=headers).status_code == 401


@pytest.mark.parametrize("change", ["deactivated", "deleted"])
def test_deactivated_or_deleted_user_is_refused(h: Helper, change: str) -> None:
    user_id, console_id = h.linked_user()
    if change == "deactivated":
        body = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        }
        assert h.scim("PATCH", f"/Users/{user_id}", body).status_code == 200
    else:
        assert h.scim("DELETE", f"/Users/{user_id}").status_code == 204
    assert h.client.get("/", headers=h.assertion(user_id, console_id)).status_code == 401


def test_product_reached_with_no_gateway_answers_401(
    module: Any, product: str, tmp_path: Any
) -> None:
    """No pinned file, and nothing at the gateway's internal URL: no key, so 401 (not 500),
    and the product's own pages still answer."""
    app = make_product_app(module, product, tmp_path, JWKS_FILE="",
                   GATEWAY_INTERNAL_URL="http://127.0.0.1:9")
    helper = Helper(app, app.test_client(), product)
    user_id, console_id = helper.linked_user()
    for accept in ("application/json", "text/html"):
        headers = helper.assertion(user_id, console_id) | {"Accept": accept}
        assert helper.client.get("/", headers=headers).status_code == 401
    assert helper.client.get("/", headers=JSON).status_code == 401
    assert helper.client.get("/login").status_code == 200


def test_small_clock_skew_is_tolerated(h: Helper) -> None:
    user_id, console_id = h.linked_user()
    headers = h.assertion(user_id, console_id, now=int(time.time()) + 3)
    assert h.client.get("/", headers=headers).status_code == 200


def test_linked_user_cannot_use_own_session(h: Helper) -> None:
    email, password = h.password_user
    h.sign_in(email, password)
    assert h.client.get("/", headers=JSON).status_code == 200
    with session_factory(h.app)() as db:
        user = db.query(User).filter_by(email=email).one()
        user.external_id = "console-set-directly"
        db.commit()
    assert h.client.get("/", headers=JSON).status_code == 401
