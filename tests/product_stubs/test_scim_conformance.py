"""SCIM conformance of both products' ``/scim/v2/`` (User resource), by an independent checker.

scim2-tester (python-scim, built on scim2-client and scim2-models) is pointed over real HTTP at
each product app served on a loopback port. It reads the discovery endpoints, builds the User
model from the published schema and runs its CRUD, attribute-selection and PATCH add / replace /
remove checks with random data. One test per checker (its function name), per product; every
result of that checker must pass (SUCCESS, COMPLIANT or ACCEPTABLE). A SKIPPED result passes only
where it is listed in ``NOT_APPLICABLE`` with the reason the tool gives (a feature the products
do not offer); anything else the tool reports fails the test with its reason.

The one thing the checker is told beyond what the server publishes: ``userName`` is an email
address and the user's one email is that same address (a documented product rule a SCIM schema
cannot express; its random UUID userNames would be a 400 ``invalidValue``). ``test_scim.py``
covers the refusals of a non-email userName and of a mismatched email.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from httpx2 import Client
from pydantic import BaseModel
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import CheckResult, Status, check_server

from product_stubs.kit.db import session_factory
from tests.support.product_apps import PRODUCTS
from tests.support.product_servers import start_product
from tests.support.served import stop

pytestmark = pytest.mark.e2e

#: What scim2-tester 0.5.2 runs for a server offering only Users (see scim2_tester/checker.py
#: and checkers/resource.py). ``test_no_unlisted_check`` fails if the tool reports another.
CHECKS = [
    "service_provider_config_endpoint",
    "service_provider_config_endpoint_methods",
    "query_all_resource_types",
    "query_resource_type_by_id",
    "resource_types_schema_validation",
    "access_invalid_resource_type",
    "resource_types_endpoint_methods",
    "query_all_schemas",
    "access_schema_by_id",
    "access_invalid_schema",
    "schemas_endpoint_methods",
    "random_url",
    "object_creation",
    "object_query",
    "object_query_without_id",
    "object_query_with_attributes",
    "object_list_with_attributes",
    "search_with_attributes",
    "object_replacement",
    "object_deletion",
    "check_add_attribute",
    "check_remove_attribute",
    "check_replace_attribute",
]
PASSED = {Status.SUCCESS, Status.COMPLIANT, Status.ACCEPTABLE}
#: Checks the tool itself reports as not applicable (SKIPPED), with the reason it must give.
NOT_APPLICABLE = {
    # The products do not offer POST /.search (501, RFC 7644 §3.12); GET ?filter= is tested.
    "search_with_attributes": "is not supported by the server",
    # The schema declares externalId immutable and emails/active required (a product user always
    # has them), so nothing is removable; test_scim.py checks the 400 mutability answers.
    "check_remove_attribute": "No removable attributes found for User",
}


class _Addresses:
    """The last address generated for a ``userName``."""

    last = ""


class FreshAddress(Sequence[str]):
    """A one-item ``examples`` list whose item is a new address at each read (``userName``)."""

    def __init__(self, state: _Addresses) -> None:
        self.state = state

    def __len__(self) -> int:
        return 1

    def __getitem__(self, index: Any) -> Any:
        if index != 0:
            raise IndexError(index)
        self.state.last = f"{uuid.uuid4().hex}@conformance.example"
        return self.state.last


class SameAddress(FreshAddress):
    """The address of the ``userName`` generated just before (the checker fills attributes in
    schema order, ``userName`` before ``emails``): the user's one email is its userName."""

    def __getitem__(self, index: Any) -> Any:
        if index != 0:
            raise IndexError(index)
        return self.state.last or super().__getitem__(0)


def run_checker(base_url: str, token: str) -> list[CheckResult]:
    http = Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    try:
        client = SyncSCIMClient(http)
        # The schema the server publishes, as the checker would read it; only example values
        # are added to it (see the module docstring). check_server keeps a described model.
        client.discover()
        user = client.provider.model_for_endpoint("/Users")
        assert user is not None, "the server publishes no model for /Users"
        state = _Addresses()
        user.model_fields["user_name"].examples = FreshAddress(state)  # type: ignore[assignment]
        emails = user.get_field_root_type("emails")
        assert isinstance(emails, type) and issubclass(emails, BaseModel)
        emails.model_fields["value"].examples = SameAddress(state)  # type: ignore[assignment]
        return check_server(client, resource_types=["User"])
    finally:
        http.close()


Results = Callable[[str], list[CheckResult]]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Results:
    """The checker's results for a product, run once against that product freshly served."""
    cache: dict[str, list[CheckResult]] = {}

    def for_product(name: str) -> list[CheckResult]:
        if name not in cache:
            product = start_product(name, tmp_path_factory.mktemp(name))
            try:
                cache[name] = run_checker(f"{product.url}/scim/v2", product.token)
            finally:
                stop(product.server)
                session_factory(product.app).kw["bind"].dispose()
        return cache[name]

    return for_product


def describe(result: CheckResult) -> str:
    return f"{result.status.name}: {result.reason} | data={str(result.data)[:600]}"


@pytest.mark.parametrize("check", CHECKS)
@pytest.mark.parametrize("product", PRODUCTS)
def test_check(results: Results, product: str, check: str) -> None:
    mine = [result for result in results(product) if result.title == check]
    assert mine, f"scim2-tester did not run {check}"
    for result in mine:
        if result.status is Status.SKIPPED:
            reason = NOT_APPLICABLE.get(check)
            assert reason and reason in (result.reason or ""), describe(result)
            continue
        assert result.status in PASSED, describe(result)


@pytest.mark.parametrize("product", PRODUCTS)
def test_no_unlisted_check(results: Results, product: str) -> None:
    """Every result belongs to a listed check (a new checker or an error result is not lost)."""
    unlisted = [describe(r) for r in results(product) if r.title not in CHECKS]
    assert unlisted == []
    users = {r.title for r in results(product) if r.resource_type == "User"}
    assert users == set(CHECKS[12:])
