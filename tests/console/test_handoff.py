"""The product hand-off explains itself on the gateway (issue 12, item 6): a product's login
page sends a linked user's email (``login_hint``) and its path (``next``) here."""

from __future__ import annotations

import pytest

from tests.support.console import Actions
from tests.support.csrf import without_csrf


@pytest.mark.parametrize(
    ("next_path", "title"), [("/segment/", "Segment"), ("/sendgrid/settings", "SendGrid")]
)
def test_sign_in_page_names_the_product(actions: Actions, next_path: str, title: str) -> None:
    response = actions.client.get("/login", query_string={
        "login_hint": "pat@example.com", "next": next_path})
    text = " ".join(response.get_data(as_text=True).split())
    assert response.status_code == 200
    assert f"{title} now uses your Console sign-in." in text
    assert f"the old {title} password no longer works" in text
    assert 'value="pat@example.com"' in text


@pytest.mark.parametrize(
    "query",
    [{"next": "/segment/"}, {"login_hint": "pat@example.com"},
     {"login_hint": "pat@example.com", "next": "//evil.example/segment/"},
     {"login_hint": "pat@example.com", "next": "/segmentation/"}],
    ids=["no-hint", "no-product", "foreign-next", "prefix-lookalike"],
)
def test_no_hand_off_message_otherwise(actions: Actions, query: dict[str, str]) -> None:
    page = actions.client.get("/login", query_string=query).get_data(as_text=True)
    assert "now uses your Console sign-in" not in page


def test_same_page_whoever_the_hint_names(actions: Actions) -> None:
    actions.create_user("known@example.com")
    pages = []
    for email in ("known@example.com", "unknown@example.com"):
        page = actions.client.get("/login", query_string={"login_hint": email, "next": "/segment/"})
        pages.append(page.get_data(as_text=True).replace(email, "EMAIL"))
    assert without_csrf(pages[0]) == without_csrf(pages[1])
