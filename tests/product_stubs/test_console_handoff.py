"""The product's own login page says why a linked user's old product password no longer
works (issue 12, item 6); the gateway side is in tests/console/test_handoff.py."""

from __future__ import annotations

from tests.support.product_apps import Helper

TITLES = {"segment": "Segment", "sendgrid": "SendGrid"}


def test_login_page_explains_the_console_sign_in(h: Helper) -> None:
    title = TITLES[h.product]
    page = h.client.get("/login").get_data(as_text=True)
    assert 'data-testid="console-sign-in-note"' in page
    text = " ".join(page.split())
    assert f"{title} uses your Console sign-in" in text
    assert f"old {title} password no longer works" in text


def test_linked_user_is_still_sent_to_the_gateway(h: Helper) -> None:
    email, _password = h.password_user
    assert h.link(h.user(email).id, "console-1").status_code == 200
    response = h.client.post("/login", data={"email": email})
    assert response.status_code == 302 and "/login?login_hint=" in response.headers["Location"]
