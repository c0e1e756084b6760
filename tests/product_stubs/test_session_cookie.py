"""Each product has its own session cookie, and the demo says products live on their own
hostnames in production (issue 10's attack run).
"""

from __future__ import annotations

import pytest

from tests.support.product_apps import Helper


@pytest.mark.cwe(565)
def test_each_product_has_its_own_session_cookie(h: Helper) -> None:
    response = h.sign_in(*h.password_user)
    cookies = response.headers.getlist("Set-Cookie")
    assert any(c.startswith(f"{h.product}_session=") for c in cookies)
    assert h.app.config["SESSION_COOKIE_NAME"] not in {"session", "gw_session"}
    page = h.app.test_client().get("/login").get_data(as_text=True)
    assert "own hostname" in page  # the demo says what production does differently
