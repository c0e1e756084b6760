"""The operator console's rules through real nginx: an account an operator disables is refused
by ``/auth/nginx`` at once (the product is never reached), browser and API alike; an account
that must set up a second factor (here: a role holder without one) is sent to enrolment
rather than served. (The built-in proxy: tests/admin/test_people.py, test_policy.py.)"""

from __future__ import annotations

import time

import pyotp
import pytest

from gateway import db as gateway_db
from gateway.db import new_session
from gateway.models import ProductLink
from tests.support import people
from tests.support.edge import EdgeStack
from tests.support.person import Person

PASSWORD = "correct horse battery staple"


@pytest.mark.parametrize("edge", ["nginx"], indirect=True)
def test_a_disabled_account_is_refused_by_nginx_at_once(edge: EdgeStack) -> None:
    tag = time.monotonic_ns()
    admin_email, pat_email = f"admin-{tag}@example.com", f"pat-{tag}@example.com"
    admin_id, secret, _ = people.create_console_user_with_2fa(edge.stack, admin_email, PASSWORD)
    people.grant_role(edge.stack, admin_id, "admin")
    pat_id = people.create_console_user(edge.stack, pat_email, PASSWORD)
    app = edge.stack.app("gateway")
    with app.app_context(), new_session() as db:
        db.add(ProductLink(user_id=pat_id, product="segment", product_user_id=f"echo-{tag}"))
        db.commit()
    gateway_db.engine(app).dispose()

    pat = Person(edge.url, pat_email, PASSWORD)
    assert pat.sign_in().status_code == 302
    served = pat.get("/segment/x", headers={"Accept": "application/json"})
    assert served.status_code == 200 and served.headers.get("X-Upstream")

    admin = Person(edge.url, admin_email, PASSWORD)
    assert admin.sign_in().status_code == 302
    second = admin.post_form("/login/2fa", "/login/2fa", {"code": pyotp.TOTP(secret).now()})
    assert second.status_code == 302, second.text[:300]
    person_page = f"/admin/people/{pat_id}"
    disabled = admin.post_form(person_page, f"{person_page}/disable",
                               {"disable-reason": "account taken over, ticket 99"})
    assert disabled.status_code == 302, disabled.text[:300]

    # At once: no wait, no retry.
    browser = pat.get("/segment/x", headers={"Accept": "text/html"})
    assert browser.status_code == 302 and browser.headers["Location"].startswith("/login?next=")
    assert browser.headers.get("X-Upstream") is None
    api = pat.get("/segment/x", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.headers.get("X-Upstream") is None
    # Signing in again is refused too.
    again = Person(edge.url, pat_email, PASSWORD)
    assert again.sign_in().status_code != 302
    assert again.get("/segment/x", headers={"Accept": "application/json"}).status_code == 401


@pytest.mark.parametrize("edge", ["nginx"], indirect=True)
def test_an_account_that_must_enrol_is_sent_to_enrolment_not_to_the_product(
    edge: EdgeStack
) -> None:
    tag = time.monotonic_ns()
    email = f"ops-{tag}@example.com"
    user_id = people.create_console_user(edge.stack, email, PASSWORD)
    people.grant_role(edge.stack, user_id, "support")  # a role, and no second factor yet
    app = edge.stack.app("gateway")
    with app.app_context(), new_session() as db:
        db.add(ProductLink(user_id=user_id, product="segment", product_user_id=f"echo-{tag}"))
        db.commit()
    gateway_db.engine(app).dispose()
    ops = Person(edge.url, email, PASSWORD)
    assert ops.sign_in().status_code == 302
    browser = ops.get("/segment/x", headers={"Accept": "text/html"})
    assert browser.status_code == 302, browser.text[:300]
    assert browser.headers["Location"].endswith("/settings/2fa/enable")
    assert browser.headers.get("X-Upstream") is None
    api = ops.get("/segment/x", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.headers.get("X-Upstream") is None
