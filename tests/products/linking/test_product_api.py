"""The gateway's client of the products' internal and SCIM endpoints, against the real apps."""

from __future__ import annotations

import pytest
import requests

from gateway.products import api
from tests.support.product_servers import SEGMENT_ALICE
from tests.support.proxy_gateway import free_port


@pytest.fixture
def segment(gateway):
    with gateway.app_context():
        yield api.client_for("segment")


def test_verify_link_find_create_patch(segment, products):
    user = segment.verify_credentials(*SEGMENT_ALICE)
    assert user.email == "alice@example.com" and user.external_id is None
    with pytest.raises(api.InvalidCredentials):
        segment.verify_credentials("alice@example.com", "wrong-password-123")

    linked = segment.link_user(user.id, "console-1", "alice@example.com")
    assert linked.external_id == "console-1"
    assert segment.link_user(user.id, "console-1", "alice@example.com").id == user.id
    with pytest.raises(api.AlreadyLinked):
        segment.link_user(user.id, "console-2", "x@example.com")

    found = segment.find_user_by_email("ALICE@example.com")
    assert found is not None and found.id == user.id and found.external_id == "console-1"
    assert segment.find_user_by_email('no"body@example.com') is None

    created = segment.create_user("new@example.com", "console-3")
    assert created.external_id == "console-3" and created.etag
    with pytest.raises(api.EmailInUse):
        segment.create_user("bob@example.com", "console-4")

    moved = segment.patch_user_email(created.id, "renamed@example.com", if_match=created.etag)
    assert moved.email == "renamed@example.com"
    with pytest.raises(api.EmailInUse):
        segment.patch_user_email(created.id, "bob@example.com")
    with pytest.raises(api.PreconditionFailed):
        segment.patch_user_email(created.id, "again@example.com", if_match=created.etag)


def test_unreachable_product(gateway):
    with gateway.app_context():
        client = api.client_for("segment")
    dead = api.ProductClient(
        client.product.__class__(**{**client.product.__dict__,
                                    "upstream": f"http://127.0.0.1:{free_port()}"}),
        timeout=(0.5, 0.5),
    )
    with pytest.raises(api.ProductUnavailable):
        dead.find_user_by_email("alice@example.com")


def test_slow_product_times_out(segment, products):
    faults = products["segment"].url + "/internal/test/faults"
    headers = {"Authorization": f"Bearer {products['segment'].token}"}
    requests.post(faults, json={"fail": [], "delay_seconds": 2}, headers=headers, timeout=5)
    slow = api.ProductClient(segment.product, timeout=(0.5, 0.3))
    try:
        with pytest.raises(api.ProductUnavailable):
            slow.find_user_by_email("alice@example.com")
    finally:
        requests.post(faults, json={"fail": []}, headers=headers, timeout=5)


def test_wrong_token_is_the_operators_problem(segment):
    wrong = api.ProductClient(
        segment.product.__class__(**{**segment.product.__dict__, "scim_token": "nope"}),
        timeout=segment.timeout,
    )
    with pytest.raises(api.ProductUnavailable):
        wrong.verify_credentials(*SEGMENT_ALICE)
