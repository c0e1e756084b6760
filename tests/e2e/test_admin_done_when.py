"""Issue 24's "done when", in headless Chromium against the real stack (gateway and both
products on loopback ports).

(a) Pat lost the phone and the recovery codes. An *admin* (support may not reset 2FA) with only
a browser finds Pat, checks the person page (authenticator app on, codes left), resets 2FA with
a reason. Pat gets the notice mail, signs in with the password alone, asks for a product and is
led through enrolment first (the proxy sends an account that must enrol to the set-up page),
then reaches the product.

(b) An owner exports this month's audit log from the Audit page, as CSV and as JSON Lines; the
downloaded files hold this month's rows, the admin's reset among them.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pyotp
import pytest
import requests
from playwright.sync_api import expect

from tests.e2e.browser import Steps, new_page, sign_in
from tests.support import people
from tests.support.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

PASSWORD = "correct horse battery staple"


def test_admin_resets_2fa_of_a_person_who_lost_phone_and_codes(
    stack: Stack, browser_page: Steps
) -> None:
    steps, page, gateway = browser_page, browser_page.page, stack.gateway_url
    tag = uuid.uuid4().hex[:8]
    admin_email, pat_email = f"admin-{tag}@example.com", f"pat-{tag}@example.com"
    admin_id, admin_secret, _ = people.create_console_user_with_2fa(stack, admin_email, PASSWORD)
    people.grant_role(stack, admin_id, "admin")
    pat_id, _lost_secret, _lost_codes = people.create_console_user_with_2fa(
        stack, pat_email, PASSWORD)
    people.create_linked_product_user(stack, "segment", pat_email, pat_id)

    # The admin finds Pat and checks the person page.
    sign_in(steps, gateway, admin_email, PASSWORD, admin_secret)
    page.get_by_role("link", name="Operator console").first.click()
    page.wait_for_url(gateway + "/admin/people")
    page.get_by_label("Email, account id or product user id").fill(pat_email)
    page.get_by_role("button", name="Search").click()
    page.get_by_role("link", name=pat_email).click()
    factors = page.get_by_test_id("person-factors")
    expect(factors).to_contain_text("authenticator app")
    expect(factors).to_contain_text("Recovery codes left: 10")
    expect(page.get_by_test_id("person-links")).to_contain_text(re.compile("Segment", re.I))
    steps.shot("person-before-reset")

    form = page.locator('form[data-action="reset-2fa"]')
    form.get_by_label("Reason").fill("Lost phone and codes; identity checked on video, #5521")
    form.get_by_role("button", name="Reset two-factor authentication").click()
    expect(page.get_by_role("status")).to_contain_text("Two-factor authentication reset")
    expect(factors).to_contain_text("Off")
    expect(factors).to_contain_text("Sets one up at the next sign-in.")
    steps.shot("person-after-reset")

    # Pat's notice mail names the action, not the admin.
    mailbox = requests.get(gateway + "/dev/mailbox", timeout=10).text
    notices = re.findall(r'data-recipient="' + re.escape(pat_email) + r'">\s*<h2>([^<]+)</h2>'
                         r'.*?<pre>(.*?)</pre>', mailbox, re.S)
    subjects = [subject for subject, _ in notices]
    assert "Your two-factor authentication was reset" in subjects
    assert all(admin_email not in body for _, body in notices)

    # Pat asks for the product, signs in with the password alone, and is led to enrol first.
    pat = new_page(page.context.browser)
    pat.goto(gateway + "/segment/")
    pat.wait_for_url(re.compile(re.escape(gateway) + r"/login"))
    pat.get_by_label("Email").fill(pat_email)
    pat.get_by_label("Password", exact=True).fill(PASSWORD)
    pat.get_by_role("button", name="Sign in").click()
    pat.wait_for_url(gateway + "/settings/2fa/enable")
    steps.shot("pat-led-to-enrolment", pat)
    secret = re.sub(r"\s", "", pat.get_by_test_id("totp-secret").inner_text())
    pat.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    pat.get_by_role("button", name="Turn on").click()
    expect(pat.get_by_role("heading", name="Save your recovery codes")).to_be_visible()
    pat.get_by_role("button", name="I saved them").click()
    pat.wait_for_url(gateway + "/settings")
    pat.goto(gateway + "/segment/")
    assert pat.url.startswith(gateway + "/segment/"), pat.url
    expect(pat.locator("body")).to_contain_text(pat_email)
    steps.shot("pat-reaches-product", pat)

    # The admin sees Pat enrolled again.
    page.reload()
    expect(page.get_by_test_id("person-factors")).to_contain_text("authenticator app")


def _exported(page: Any, kind: str) -> str:
    form = page.get_by_test_id("audit-export")
    form.get_by_label("Export these events as").select_option(kind)
    with page.expect_download() as download:
        form.get_by_role("button", name="Export").click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith("." + kind)
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_owner_exports_the_months_audit_log_as_csv_and_json_lines(
    stack: Stack, browser_page: Steps
) -> None:
    steps, page, gateway = browser_page, browser_page.page, stack.gateway_url
    tag = uuid.uuid4().hex[:8]
    owner_email = f"owner-{tag}@example.com"
    owner_id, secret, _ = people.create_console_user_with_2fa(stack, owner_email, PASSWORD)
    people.grant_role(stack, owner_id, "owner")
    sign_in(steps, gateway, owner_email, PASSWORD, secret)

    today = datetime.now(UTC)
    first = today.replace(day=1).strftime("%Y-%m-%d")
    page.goto(gateway + "/admin/people")
    page.get_by_role("link", name="Audit log").click()
    page.wait_for_url(re.compile(re.escape(gateway) + "/admin/audit"))
    page.get_by_label("From (day)").fill(first)
    page.get_by_label("To (day, included)").fill(today.strftime("%Y-%m-%d"))
    page.get_by_role("button", name="Show events").click()
    steps.shot("audit-this-month")

    month = today.strftime("%Y-%m")
    rows = list(csv.DictReader(io.StringIO(_exported(page, "csv"))))
    assert rows, "no rows in the CSV export"
    assert all(row["created_at"].startswith(month) for row in rows)
    mine = [row for row in rows if row["target_id"] == owner_id and row["event"] == "login"]
    assert mine, "the owner's own sign-in is not in the export"

    lines = [json.loads(line) for line in _exported(page, "jsonl").splitlines() if line]
    assert len(lines) >= len(rows)  # the first export is itself an audit row now
    assert all(line["created_at"].startswith(month) for line in lines)
    assert any(line["event"] == "audit_exported" and line["actor_id"] == owner_id
               and line["detail"].get("format") == "csv" for line in lines)
    assert {row["id"] for row in rows} <= {str(line["id"]) for line in lines}
