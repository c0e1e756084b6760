"""Central settings take effect in every product; product settings stay per product.

Everything goes through the running gateway to the real product processes.
"""

from __future__ import annotations

import re

from tests.support import people
from tests.support.linked_person import PASSWORD, Person
from tests.support.stack import Stack


def set_timezone(person: Person, product: str, zone: str) -> None:
    url = f"{person.stack.gateway_url}/{product}/settings"
    response = people.submit(person.session, url + "/timezone", form_url=url, timezone=zone)
    assert response.status_code in (302, 303), response.text[:300]


def shown_timezone(person: Person, product: str) -> str:
    page = person.session.get(f"{person.stack.gateway_url}/{product}/settings", timeout=10).text
    match = re.search(r"<option selected>([^<]+)</option>", page)
    assert match, page[:500]
    return match.group(1)


def test_timezone_is_per_product(person: Person) -> None:
    before = shown_timezone(person, "sendgrid")
    set_timezone(person, "segment", "Asia/Tokyo")
    assert shown_timezone(person, "segment") == "Asia/Tokyo"
    assert shown_timezone(person, "sendgrid") == before
    set_timezone(person, "sendgrid", "America/Denver")
    assert shown_timezone(person, "segment") == "Asia/Tokyo"


def test_product_settings_say_managed_in_console(person: Person, stack: Stack) -> None:
    for product in ("segment", "sendgrid"):
        page = person.session.get(f"{stack.gateway_url}/{product}/settings", timeout=10).text
        assert "Managed in the Console" in page
        assert f'href="{stack.gateway_url}/settings"' in page


def test_segment_session_history_shows_gateway_sign_ins(person: Person, stack: Stack) -> None:
    person.session.get(stack.gateway_url + "/segment/", timeout=10)
    history = person.session.get(stack.gateway_url + "/segment/settings/sessions", timeout=10)
    assert history.status_code == 200
    assert "unified login" in history.text.lower()


def test_password_change_takes_effect_in_both_products(person: Person, stack: Stack) -> None:
    other_browser = people.sign_in(stack, person.email, PASSWORD)
    for product in ("segment", "sendgrid"):
        page = other_browser.get(f"{stack.gateway_url}/{product}/", timeout=10)
        assert page.status_code == 200 and person.email in page.text
    assert people.submit(person.session, stack.gateway_url + "/settings/reauthenticate",
                         password=PASSWORD).status_code == 302
    new_password = "a different passphrase now"
    changed = people.submit(person.session, stack.gateway_url + "/settings/password",
                            password=new_password)
    assert changed.status_code == 302
    for product in ("segment", "sendgrid"):
        refused = other_browser.get(f"{stack.gateway_url}/{product}/", allow_redirects=False,
                                    headers={"Accept": "text/html"}, timeout=10)
        assert refused.status_code == 302 and "/login" in refused.headers["Location"]
        still = person.session.get(f"{stack.gateway_url}/{product}/", timeout=10)
        assert still.status_code == 200 and person.email in still.text
    old = people.browser()
    assert people.submit(old, stack.gateway_url + "/login", email=person.email,
                         password=PASSWORD).status_code == 401
    fresh = people.sign_in(stack, person.email, new_password)
    assert fresh.get(f"{stack.gateway_url}/sendgrid/", timeout=10).status_code == 200
