"""SCIM conformance of the gateway's own ``/scim/v2/`` (SCIM in), by the independent checker
the products' SCIM is held to (``tests/product_stubs/test_scim_conformance.py``: the same
``run_checker``, the same list of checks).

The gateway is served on a loopback port; an owner verified ``conformance.example`` over
the test's DNS server and made a token on the organization's SCIM page; scim2-tester then
reads the discovery endpoints and runs its CRUD, attribute-selection and PATCH checks with
its token, over real HTTP. The checker's users are at ``@conformance.example`` (the
verified domain: the only addresses the IdP may provision).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from scim2_tester import CheckResult, Status

from tests.organizations.conftest import People
from tests.organizations.test_domains import add_domain, txt_value, verify
from tests.organizations.test_scim_in import make_token
from tests.product_stubs.test_scim_conformance import CHECKS, PASSED, describe, run_checker
from tests.support.dns_zone import Zone
from tests.support.served import serving

pytestmark = pytest.mark.e2e

DOMAIN = "conformance.example"
#: Checks the tool itself reports as not applicable (SKIPPED), with the reason it must give.
NOT_APPLICABLE = {
    # POST /.search is not offered (501, RFC 7644 §3.12); GET ?filter= is tested.
    "search_with_attributes": "is not supported by the server",
}


@pytest.fixture
def results(app: Flask, people: People, zone: Zone) -> Iterator[list[CheckResult]]:
    owner = people("owner@conformance.example")
    org = owner.create_organization("Conformance")
    domain_id = add_domain(owner, org, DOMAIN)
    zone.txt[f"_unified-login-challenge.{DOMAIN}"] = [txt_value(owner, org, DOMAIN)]
    assert f"{DOMAIN} is verified" in verify(owner, org, domain_id)
    token = make_token(owner, org, "scim2-tester")
    with serving(app) as server:
        yield run_checker(f"http://127.0.0.1:{server.server_port}/scim/v2", token)


def test_every_check_passes(results: list[CheckResult]) -> None:
    """One test for all checks (the gateway and its DNS zone are set up per test)."""
    failures = []
    for check in CHECKS:
        mine = [result for result in results if result.title == check]
        if not mine:
            failures.append(f"{check}: not run")
        for result in mine:
            if result.status is Status.SKIPPED:
                reason = NOT_APPLICABLE.get(check)
                if not (reason and reason in (result.reason or "")):
                    failures.append(f"{check}: {describe(result)}")
            elif result.status not in PASSED:
                failures.append(f"{check}: {describe(result)}")
    unlisted = [describe(r) for r in results if r.title not in CHECKS]
    assert failures == [] and unlisted == []
