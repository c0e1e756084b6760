"""Metrics, request ids, JSON access logs and security headers on gateway pages."""

from __future__ import annotations

import json
import logging
import re

import pytest

from tests.support.apps import dispose
from tests.support.console import Actions, make_gateway_app


def test_metrics_count_logins_and_are_loopback_only(actions: Actions) -> None:
    actions.create_user()
    actions.sign_in(password="wrong password!!")
    actions.sign_in()
    body = actions.client.get("/metrics").get_data(as_text=True)
    assert 'gateway_logins_total{outcome="success"}' in body
    assert 'gateway_logins_total{outcome="failure"}' in body
    assert "gateway_request_seconds_bucket" in body
    remote = actions.client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 404


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "status"),
    [
        ("203.0.113.9", "127.0.0.1", 404),  # a stranger naming loopback
        ("127.0.0.1", "203.0.113.9", 404),  # a stranger's request relayed by the edge
        ("127.0.0.1", "127.0.0.1", 404),  # relayed all the same: only the scraper's own
        ("127.0.0.1", None, 200),  # the scraper itself
    ],
    ids=["spoofed-loopback", "relayed-stranger", "relayed-loopback", "scraper"],
)
def test_metrics_judge_the_socket_peer_not_forwarded_headers(
    database_url: str, peer: str, forwarded_for: str | None, status: int
) -> None:
    """The allow-list judges the peer forward-auth judges, whatever TRUSTED_PROXY_HOPS makes
    of X-Forwarded-For (CWE-348)."""
    app = make_gateway_app(database_url, TRUSTED_PROXY_HOPS=1)
    try:
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        answer = app.test_client().get("/metrics", headers=headers,
                                       environ_base={"REMOTE_ADDR": peer})
        assert answer.status_code == status
    finally:
        dispose(app)


def test_request_id_kept_or_generated_and_logged(
    actions: Actions, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="gateway.access"):
        kept = actions.client.get("/healthz", headers={"X-Request-ID": "abc-123-def"})
        replaced = actions.client.get("/healthz", headers={"X-Request-ID": "bad id <x>" * 20})
        actions.client.get("/verify-email?token=secret-token-value")
    assert kept.headers["X-Request-ID"] == "abc-123-def"
    assert replaced.headers["X-Request-ID"] != "bad id <x>" * 20
    lines = [json.loads(r.getMessage()) for r in caplog.records if r.name == "gateway.access"]
    assert lines[0]["request_id"] == "abc-123-def" and lines[0]["status"] == 200
    assert not any("secret-token-value" in r.getMessage() for r in caplog.records)


def test_security_headers_on_gateway_pages(actions: Actions) -> None:
    response = actions.client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert "Strict-Transport-Security" not in response.headers
    https = actions.client.get("/login", base_url="https://localhost")
    assert https.headers["Strict-Transport-Security"].startswith("max-age=")
    # No inline script: only static files from this origin (the CSP would block anything else).
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", response.get_data(as_text=True), re.S)
    assert scripts and all(
        re.fullmatch(r' src="/static/[\w.-]+\.js" defer', attrs) and not body.strip()
        for attrs, body in scripts
    ), scripts
