"""Proxied pages cannot be framed by another site or kept by a shared cache, and the headers a
product sets itself are kept (issue 10's attack run).
"""

from __future__ import annotations

import pytest

from tests.support.proxy_gateway import SignedIn, echoed


@pytest.mark.cwe(1021)
def test_proxied_pages_cannot_be_framed_or_cached(signed_in: SignedIn) -> None:
    for response in (signed_in.client.get("/segment/x"),
                     signed_in.client.get("/segment/login")):
        echoed(response)
        assert response.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.cwe(1021)
def test_product_headers_are_kept(signed_in: SignedIn) -> None:
    response = signed_in.client.get("/segment/own-headers")
    assert response.status_code == 200
    assert response.headers.getlist("Content-Security-Policy") == [
        "default-src 'self'; frame-ancestors 'self'"]
    assert response.headers.getlist("Cache-Control") == ["public, max-age=60"]
    assert response.headers["X-Frame-Options"] == "DENY"  # added: the product set none
