"""Every page of the Console and both products through axe-core, light and dark (issue 16).

One stack for the module; one crawl per colour scheme. Each page is reached as a person reaches
it (through the gateway, and each product directly on its own port), then:

- axe-core (npm, pinned in tests/e2e/axe/package.json, installed by ``.ci/run``) runs with the
  WCAG 2.0/2.1 A and AA rules; any violation fails the test;
- nothing may scroll sideways on a 375 px phone nor at 200 % zoom (a 1280 px window zoomed to
  200 % lays out 640 CSS px);
- at 1280 px and at 375 px no table cell breaks a word across lines (a column too narrow for its
  words: "Addre/ss"), and every checkbox sits on the line of its label, not stretched on a line
  of its own (``LAYOUT_PROBLEMS``);
- a screenshot per page goes to ``test-artifacts/accessibility/<scheme>/NN-page.png`` and the
  violation counts to ``test-artifacts/accessibility/<scheme>/report.json``.

The switcher's markup is compared between the Console and both products on the way.

The crawl is the slowest browser test; ``.ci/run`` sets ``SKIP_ACCESSIBILITY_CRAWL=1`` for the
PostgreSQL pass (the pages do not depend on the database engine).
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import pyotp
import pytest

from gateway import db as gateway_db
from tests.e2e.browser import TIMEOUT_MS
from tests.support.people import create_console_user
from tests.support.stack import ROOT, Stack

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.browser,
    pytest.mark.skipif(
        bool(os.environ.get("SKIP_ACCESSIBILITY_CRAWL")),
        reason="SKIP_ACCESSIBILITY_CRAWL is set (CI runs the crawl in the SQLite pass only)",
    ),
]

AXE = os.path.join(ROOT, "tests", "e2e", "axe", "node_modules", "axe-core", "axe.min.js")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
PASSWORD = "a console passphrase for axe"
WIDTHS = {"phone": 375, "zoom-200": 640}

#: What a person sees as broken layout, measured in the page: a word of a table cell split over
#: two lines, a checkbox or radio button that is not beside the first line of its label, and (on
#: Console pages) more than one primary button.
#: Text hidden for screen readers only (clipped) is skipped: nobody sees it wrap.
LAYOUT_PROBLEMS = """() => {
  const problems = [];
  const clipped = (el) => {
    for (let e = el; e && e !== document.body; e = e.parentElement) {
      const style = getComputedStyle(e);
      if (style.clip !== 'auto' || style.display === 'none') { return true; }
    }
    return false;
  };
  for (const cell of document.querySelectorAll('td, th')) {
    if (!cell.getClientRects().length) { continue; }
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (clipped(node.parentElement)) { continue; }
      for (const match of node.data.matchAll(/[\\p{L}\\p{N}]+/gu)) {
        const range = document.createRange();
        range.setStart(node, match.index);
        range.setEnd(node, match.index + match[0].length);
        const lines = new Set([...range.getClientRects()].filter(r => r.width > 0)
                              .map(r => Math.round(r.top)));
        if (lines.size > 1) { problems.push('word broken in a table cell: ' + match[0]); }
      }
    }
  }
  for (const input of document.querySelectorAll('input[type=checkbox], input[type=radio]')) {
    if (!input.getClientRects().length || clipped(input)) { continue; }
    const box = input.getBoundingClientRect();
    const label = input.labels && input.labels[0];
    const line = label && label.getClientRects()[0];
    const middle = (box.top + box.bottom) / 2;
    if (!line || middle < line.top || middle > line.bottom || box.width > 2 * box.height) {
      problems.push(`${input.type} ${input.name} (${Math.round(box.width)} x `
                    + `${Math.round(box.height)} px) not on the line of its label`);
    }
  }
  // One primary (filled) action per Console page; the others are secondary.
  if (document.querySelector('link[href*="app.css"]')) {
    const primary = [...document.querySelectorAll('main button, main a.button')].filter(b =>
      b.getClientRects().length && !b.matches('.secondary, .link-button, .password-toggle'));
    if (primary.length > 1) {
      problems.push('more than one primary action: '
                    + primary.map(b => b.textContent.trim()).join(' | '));
    }
  }
  return problems;
}"""


def axe_or_skip() -> str:
    if os.path.exists(AXE):
        return AXE
    if os.environ.get("REQUIRE_BROWSER"):
        pytest.fail("axe-core is missing: npm ci --prefix tests/e2e/axe")
    pytest.skip("axe-core is not installed (npm ci --prefix tests/e2e/axe)")


@pytest.fixture(scope="module")
def people(stack: Stack) -> dict[str, str]:
    """Alice: linked to both products. Bob: linked to none (sees the link pages)."""
    from gateway.db import new_session
    from gateway.models import ProductLink
    from product_stubs import segment, sendgrid

    segment.seed_demo_data(stack.app("segment"))
    sendgrid.seed_demo_data(stack.app("sendgrid"))
    alice = create_console_user(stack, "alice@example.com", PASSWORD)
    create_console_user(stack, "bob@example.com", PASSWORD)
    gateway = stack.app("gateway")
    for name, module in (("segment", segment), ("sendgrid", sendgrid)):
        product_id = module.link_user_for_demo(stack.app(name), "alice@example.com", alice)
        with gateway.app_context(), new_session() as session:
            session.add(ProductLink(user_id=alice, product=name, product_user_id=product_id,
                                    origin="linked"))
            session.commit()
    gateway_db.engine(gateway).dispose()
    return {"alice": alice}


class Crawl:
    """Visits pages in one browser context, checking and photographing each."""

    def __init__(self, browser: Any, scheme: str) -> None:
        self.browser, self.scheme = browser, scheme
        self.folder = os.path.join(ROOT, "test-artifacts", "accessibility", scheme)
        os.makedirs(self.folder, exist_ok=True)
        for old in os.listdir(self.folder):
            os.remove(os.path.join(self.folder, old))
        self.count = 0
        self.violations: dict[str, list[str]] = {}
        self.overflow: dict[str, dict[str, int]] = {}
        self.layout: dict[str, list[str]] = {}
        self.switchers: dict[str, str] = {}
        self.compare_switcher = False  # on while one person's pages are crawled

    def context(self) -> Any:
        context = self.browser.new_context(
            color_scheme=self.scheme, bypass_csp=True, viewport={"width": 1280, "height": 900}
        )
        context.set_default_timeout(TIMEOUT_MS)
        return context

    def check(self, page: Any, name: str) -> None:
        """axe, overflow at 375 px and 640 px, a screenshot; ``name`` labels the findings."""
        page.wait_for_load_state("load")
        self.count += 1
        label = f"{self.count:02d}-{name}"
        page.screenshot(path=os.path.join(self.folder, label + ".png"), full_page=True)
        page.add_script_tag(path=AXE)
        result = page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS
        )
        self.violations[label] = [
            f"{v['id']} ({len(v['nodes'])}): {v['help']} at "
            + "; ".join(" ".join(n["target"]) for n in v["nodes"][:4])
            for v in result["violations"]
        ]
        sizes = page.viewport_size
        layout = [f"{sizes['width']} px: {p}" for p in page.evaluate(LAYOUT_PROBLEMS)]
        wide: dict[str, int] = {}
        for key, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 800})
            scroll = page.evaluate("document.documentElement.scrollWidth")
            if scroll > width:
                wide[key] = scroll
        if wide:
            self.overflow[label] = wide
        page.set_viewport_size({"width": WIDTHS["phone"], "height": 800})
        layout += [f"{WIDTHS['phone']} px: {p}" for p in page.evaluate(LAYOUT_PROBLEMS)]
        if layout:
            self.layout[label] = sorted(set(layout))
        page.screenshot(path=os.path.join(self.folder, label + "-phone.png"), full_page=True)
        page.set_viewport_size(sizes)
        switcher = page.locator("nav.switcher")
        if self.compare_switcher and switcher.count():
            self.switchers[label] = switcher_markup(page)

    def report(self) -> dict[str, Any]:
        report = {
            "pages": self.count,
            "violations": sum(len(v) for v in self.violations.values()),
            "by_page": {k: v for k, v in self.violations.items() if v},
            "overflow": self.overflow,
            "layout": self.layout,
        }
        with open(os.path.join(self.folder, "report.json"), "w") as out:
            json.dump(report, out, indent=2)
        return report


def switcher_markup(page: Any) -> str:
    """The switcher's HTML with links made absolute, the current mark and whitespace removed."""
    html: str = page.evaluate(
        """() => {
          const nav = document.querySelector('nav.switcher').cloneNode(true);
          nav.querySelectorAll('a').forEach(a => { a.setAttribute('href', a.href); });
          nav.querySelectorAll('[aria-current]').forEach(e => e.removeAttribute('aria-current'));
          return nav.outerHTML;
        }"""
    )
    return re.sub(r"\s+", " ", re.sub(r">\s+<", "><", html)).strip()


def sign_in(page: Any, gateway: str, email: str) -> None:
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(gateway + "/")


def crawl_console_signed_out(crawl: Crawl, stack: Stack) -> None:
    gateway = stack.gateway_url
    page = crawl.context().new_page()
    for path, name in [
        ("/login", "login"),
        ("/settings", "login-after-protected-page"),
        ("/signup", "signup"),
        ("/verify-email?token=not-a-token", "verify-link-problem"),
        ("/no-such-page", "not-found"),
        ("/forgot-password", "forgot-password"),
        ("/reset-password?token=not-a-token", "reset-link-problem"),
        ("/login?break_glass=1", "login-break-glass"),
        ("/sso/start", "sso-start"),
        ("/sso/start?email=someone@no-sso.example", "sso-problem"),
        ("/sso/required", "sso-required"),
    ]:
        page.goto(gateway + path)
        crawl.check(page, "console-" + name)
    page.goto(gateway + "/signup")
    page.get_by_label("Email").fill("new.person@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name=re.compile("Create|Sign up")).click()
    page.wait_for_load_state("load")
    crawl.check(page, "console-check-inbox")
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill("new.person@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("load")
    crawl.check(page, "console-login-unverified")
    page.goto(gateway + "/dev/mailbox")
    crawl.check(page, "console-dev-mailbox")
    # The verification link: in the browser that signed up (one button), and in another
    # (the password chosen at sign-up). Neither is confirmed here.
    mail = page.locator('article[data-recipient="new.person@example.com"]').first
    link = mail.locator("a[href*='/verify-email']").first.get_attribute("href")
    assert link
    page.goto(link)
    crawl.check(page, "console-confirm-email-signup-browser")
    other = crawl.context().new_page()
    other.goto(link)
    crawl.check(other, "console-confirm-email-other-browser")
    other.context.close()
    page.context.close()


def crawl_console_signed_in(crawl: Crawl, stack: Stack) -> None:
    gateway = stack.gateway_url
    page = crawl.context().new_page()
    sign_in(page, gateway, "alice@example.com")
    crawl.compare_switcher = True
    for path, name in [
        ("/", "home"),
        ("/upgrade", "plan"),
        ("/settings", "settings"),
        ("/settings/sessions", "sessions"),
        ("/settings/activity", "activity"),
        ("/settings/reauthenticate", "reauthenticate"),
        ("/settings/password", "password"),
        ("/settings/email", "email"),
        ("/settings/devices", "devices"),
        ("/settings/passkeys", "passkeys"),
        ("/settings/sessions/revoke-all", "sign-out-everywhere-question"),
        ("/logout", "sign-out-question"),
        ("/organizations/", "organizations"),
    ]:
        page.goto(gateway + path)
        crawl.check(page, "console-" + name)
    crawl_organization(crawl, page, gateway)
    # Through the gateway, each product renders the shared switcher from the assertion.
    for path, name in [
        ("/segment/", "home"),
        ("/segment/workspaces/1", "workspace"),
        ("/segment/settings", "settings"),
        ("/segment/settings/sessions", "sessions"),
        ("/sendgrid/", "home"),
        ("/sendgrid/accounts/1", "account"),
        ("/sendgrid/settings", "settings"),
        ("/segment/no-such-page", "not-found"),
    ]:
        page.goto(gateway + path)
        crawl.check(page, "via-gateway-" + path.split("/")[1] + "-" + name)
    crawl.compare_switcher = False
    page.context.close()
    crawl_email_change(crawl, stack)
    # Bob is linked to nothing: the link pages.
    page = crawl.context().new_page()
    sign_in(page, gateway, "bob@example.com")
    for product in ("segment", "sendgrid"):
        page.goto(gateway + "/link/" + product)
        crawl.check(page, "console-link-" + product)
    page.context.close()


def crawl_organization(crawl: Crawl, page: Any, gateway: str) -> None:
    """An organization as its owner: its members (with an invitation waiting), its audit,
    its managed accounts, its SCIM page (a token just made, shown once)."""
    page.goto(gateway + "/organizations/")
    page.get_by_label("Organization name").fill(f"Acme {crawl.scheme}")
    page.get_by_role("button", name="Create organization").click()
    page.wait_for_url(re.compile(r"/organizations/[0-9a-f]{32}$"))
    page.get_by_label("Email").fill(f"invitee.{crawl.scheme}@example.com")
    page.get_by_role("button", name="Send invitation").click()
    page.wait_for_load_state("load")
    crawl.check(page, "console-organization")
    page.get_by_role("link", name="Audit").click()
    page.wait_for_url(re.compile(r"/audit$"))
    crawl.check(page, "console-organization-audit")
    page.goto(page.url.removesuffix("/audit") + "/managed")
    crawl.check(page, "console-organization-managed")
    organization = page.url.removesuffix("/managed")
    page.goto(organization + "/scim")
    page.get_by_label("Name").fill("Okta")
    page.get_by_role("button", name="Create token").click()
    page.wait_for_load_state("load")
    crawl.check(page, "console-organization-scim")
    page.goto(organization + "/sso")
    crawl.check(page, "console-organization-sso")


def crawl_email_change(crawl: Crawl, stack: Stack) -> None:
    """The email change: sent, the confirm page, the old address's stop page, stopped."""
    gateway, email = stack.gateway_url, f"changing.{crawl.scheme}@example.com"
    create_console_user(stack, email, PASSWORD)
    page = crawl.context().new_page()
    sign_in(page, gateway, email)
    page.goto(gateway + "/settings/email")
    page.get_by_label("New email address").fill(f"changed.{crawl.scheme}@example.com")
    page.get_by_role("button", name="Send confirmation link").click()
    page.wait_for_load_state("load")
    crawl.check(page, "console-email-sent")
    page.goto(gateway + "/dev/mailbox")
    links = re.findall(r'href="(http[^"]*/settings/email/(?:confirm|cancel)\?token=[^"]+)"',
                       page.content())
    confirm = next(link for link in links if "/confirm?" in link).replace("&amp;", "&")
    cancel = next(link for link in links if "/cancel?" in link).replace("&amp;", "&")
    page.goto(confirm)
    crawl.check(page, "console-email-confirm")
    page.goto(cancel)
    crawl.check(page, "console-email-stop")
    page.get_by_role("button", name="Stop the change").click()
    page.wait_for_load_state("load")
    crawl.check(page, "console-email-stopped")
    page.context.close()


def crawl_two_factor(crawl: Crawl, stack: Stack) -> None:
    """Enrolment, recovery codes, turning it off, and the second sign-in step (a fresh user)."""
    gateway, email = stack.gateway_url, f"two.factor.{crawl.scheme}@example.com"
    create_console_user(stack, email, PASSWORD)
    page = crawl.context().new_page()
    sign_in(page, gateway, email)
    page.goto(gateway + "/settings/2fa/enable")
    crawl.check(page, "console-2fa-enable")
    secret = re.sub(r"\s", "", page.get_by_test_id("totp-secret").inner_text())
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    page.get_by_role("heading", name="Save your recovery codes").wait_for()
    crawl.check(page, "console-recovery-codes")
    page.goto(gateway + "/settings/2fa/replace")
    crawl.check(page, "console-2fa-replace")
    page.goto(gateway + "/settings/2fa/disable")
    crawl.check(page, "console-2fa-disable")
    page.context.close()
    page = crawl.context().new_page()
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(gateway + "/login/2fa")
    crawl.check(page, "console-login-2fa")
    page.get_by_role("link", name=re.compile("^Lost your passkey")).click()
    page.wait_for_url(gateway + "/login/2fa/recovery")
    crawl.check(page, "console-login-2fa-recovery-and-support")
    page.context.close()


def crawl_operator_console(crawl: Crawl, stack: Stack, person_id: str) -> None:
    """The operator console as an owner (every action shown): people, a person, the audit."""
    from tests.support.people import create_console_user_with_2fa, grant_role

    gateway, email = stack.gateway_url, f"owner.{crawl.scheme}@example.com"
    owner_id, secret, _codes = create_console_user_with_2fa(stack, email, PASSWORD)
    grant_role(stack, owner_id, "owner")
    page = crawl.context().new_page()
    page.goto(gateway + "/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(gateway + "/login/2fa")
    page.get_by_label("Authentication code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Verify").click()
    page.wait_for_url(gateway + "/")
    for path, name in [
        ("/admin/people", "people"),
        ("/admin/people?q=example.com", "people-found"),
        (f"/admin/people/{person_id}", "person"),
        ("/admin/audit", "audit"),
        ("/admin/policy", "policy"),
        ("/settings/sessions", "own-sessions-with-admin-group"),
    ]:
        page.goto(gateway + path)
        crawl.check(page, "admin-" + name)
    page.context.close()


def crawl_products_directly(crawl: Crawl, stack: Stack) -> None:
    # Product users of their own (a linked user is sent to the gateway's sign-in).
    for product, email, password, container in (
        ("segment", "carol@segment.example", "segment-carol-pass", "workspaces"),
        ("sendgrid", "dave@example.com", "sendgrid-dave-pass", "accounts"),
    ):
        base = stack.url(product)
        page = crawl.context().new_page()
        for path, name in [("/login", "login"), ("/signup", "signup")]:
            page.goto(base + path)
            crawl.check(page, f"direct-{product}-{name}")
        page.goto(base + "/login")
        page.get_by_label("Email").fill(email)
        page.get_by_role("button", name="Continue").click()
        page.get_by_label("Password", exact=True).wait_for()
        crawl.check(page, f"direct-{product}-login-password")
        page.get_by_label("Password", exact=True).fill(password)
        page.get_by_role("button", name=re.compile("Log in|Sign in")).click()
        page.wait_for_load_state("load")
        page.wait_for_url(base + "/")
        crawl.check(page, f"direct-{product}-home")
        page.locator(f'main a[href*="/{container}/"]').first.click()
        page.wait_for_url(re.compile(f"/{container}/[0-9]+$"))
        crawl.check(page, f"direct-{product}-container")
        own = [("/settings", "settings"), ("/dev/mailbox", "mailbox")]
        if product == "segment":
            own.append(("/settings/sessions", "sessions"))
        for path, name in own:
            page.goto(base + path)
            crawl.check(page, f"direct-{product}-{name}")
        page.context.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_every_page_passes_axe_and_fits_a_phone(
    stack: Stack, people: dict[str, str], browser: Any, scheme: str
) -> None:
    axe_or_skip()
    crawl = Crawl(browser, scheme)
    crawl_console_signed_out(crawl, stack)
    crawl_console_signed_in(crawl, stack)
    crawl_two_factor(crawl, stack)
    crawl_operator_console(crawl, stack, people["alice"])
    crawl_products_directly(crawl, stack)
    report = crawl.report()
    assert report["pages"] >= 40, report["pages"]
    assert not report["by_page"], json.dumps(report["by_page"], indent=1)
    assert not report["overflow"], report["overflow"]
    assert not report["layout"], json.dumps(report["layout"], indent=1)
    # One switcher component: the same markup in the Console and in both products.
    console = {v for k, v in crawl.switchers.items() if "-console-" in k}
    segment = {v for k, v in crawl.switchers.items() if "via-gateway-segment" in k}
    sendgrid = {v for k, v in crawl.switchers.items() if "via-gateway-sendgrid" in k}
    assert len(console) == 1 and console == segment == sendgrid, (console, segment, sendgrid)
    assert 'data-product="segment"' in console.pop()


def test_form_errors_take_focus_and_passwords_can_be_shown(stack: Stack, browser: Any) -> None:
    """app.js: focus on the error summary, its links focus the field, the show-password control
    inside the field, saying "Hide password" while the password shows."""
    page = browser.new_context().new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(stack.gateway_url + "/signup")
    password = page.get_by_label("Password", exact=True)
    toggle = page.locator("button[aria-controls=password]")
    assert password.get_attribute("type") == "password"
    assert toggle.inner_text() == "Show password"
    toggle.click()
    assert password.get_attribute("type") == "text"
    assert toggle.inner_text() == "Hide password"  # the label says what the next press does
    toggle.click()
    assert password.get_attribute("type") == "password"
    assert toggle.inner_text() == "Show password"
    # The control sits inside the field, at its end.
    field, button = password.bounding_box(), toggle.bounding_box()
    assert field and button
    assert field["x"] < button["x"]
    assert button["x"] + button["width"] <= field["x"] + field["width"]
    assert field["y"] <= button["y"]
    assert button["y"] + button["height"] <= field["y"] + field["height"]

    page.get_by_label("Email").fill("not an address")
    password.fill("short")
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state("load")
    summary = page.locator("[data-error-summary]")
    assert page.evaluate("document.activeElement.hasAttribute('data-error-summary')")
    assert summary.get_by_role("link").count() == 2  # both problems, each a link to its field
    summary.get_by_role("link", name=re.compile("^Password:")).click()
    assert page.evaluate("document.activeElement.id") == "password"
    page.context.close()


def test_on_a_phone_the_header_folds_into_a_menu_that_works_without_script(
    stack: Stack, people: dict[str, str], browser: Any
) -> None:
    """A <details> "Menu" holds the switcher and account links on a phone (in the Console and
    in the products); on a wide screen they show without it. No script runs in this browser."""
    context = browser.new_context(viewport={"width": 375, "height": 740}, java_script_enabled=False)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    sign_in(page, stack.gateway_url, "alice@example.com")
    for path, header in (("/settings", "header.topbar"), ("/segment/", "header")):
        page.set_viewport_size({"width": 375, "height": 740})
        page.goto(stack.gateway_url + path)
        switcher, menu = page.locator("nav.switcher"), page.locator(f"{header} summary")
        box = page.locator(header).bounding_box()
        assert box and box["height"] <= 80, (path, box)  # was 220-230 px of a 740 px screen
        assert not switcher.is_visible()
        menu.click()
        assert switcher.is_visible()
        menu.click()
        page.set_viewport_size({"width": 1280, "height": 900})
        assert switcher.is_visible() and not menu.is_visible(), path
    context.close()
