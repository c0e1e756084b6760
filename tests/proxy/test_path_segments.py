"""Paths with matrix parameters or empty segments are refused before routing: a product never
sees a path the gateway read differently (issue 10's attack run).
"""

from __future__ import annotations

import pytest
from flask import Flask

from tests.support.proxy_gateway import sign_in

REFUSED_PATHS = [
    pytest.param(path, id=case_id)
    for case_id, path in [
        ("CWE-41-dot-dot-semicolon-public", "/sendgrid/static/..;/settings"),
        ("CWE-41-dot-dot-semicolon-internal", "/sendgrid/x/..;/scim/v2/Users"),
        ("CWE-41-encoded-semicolon", "/sendgrid/static/..%3b/settings"),
        ("CWE-41-matrix-param", "/segment/login;jsessionid=1"),
        ("CWE-41-fullwidth-semicolon", "/segment/static/..\uff1b/settings"),
        ("CWE-41-fullwidth-dots", "/segment/static/\uff0e\uff0e/settings"),
        ("CWE-41-triple-dot", "/segment/static/.../settings"),
        ("CWE-41-space-segment", "/segment/static/%20/settings"),
        ("CWE-41-dots-and-space", "/segment/static/.. /settings"),
    ]
]


@pytest.mark.cwe(41)
@pytest.mark.parametrize("path", REFUSED_PATHS)
def test_matrix_and_empty_segments_are_refused(gateway: Flask, path: str) -> None:
    person = sign_in(gateway, gateway.test_client())
    for client in (gateway.test_client(), person.client):
        response = client.get(path, headers={"Accept": "application/json"})
        assert response.status_code == 400, (path, response.status_code)
        assert response.headers.get("X-Upstream") is None
