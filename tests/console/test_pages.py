"""What the Console pages tell a person (issue 16): notices by kind, one wording ("sign in"),
every form error at once with a summary linking to its field, the password rules before
submitting, dead ends with a way on, the email change's new address and its stop link, precise
activity entries, the favicon and logo. Browser-level checks (axe-core, phone widths, the
switcher's markup in three apps) are in tests/e2e/test_accessibility.py."""

from __future__ import annotations

import re
import time

import pyotp
from flask import Flask

from tests.support.console import PASSWORD, Actions


def text(response: object) -> str:
    return response.get_data(as_text=True)  # type: ignore[attr-defined]


def test_first_visit_is_an_info_notice_that_says_sign_in(actions: Actions) -> None:
    page = text(actions.client.get("/settings", follow_redirects=True))
    notice = '<div class="notice notice-info" role="status"><p>Please sign in to see that page.'
    assert notice in page
    assert "log in" not in page.lower()


def test_signup_shows_every_problem_at_once_with_a_linked_summary(actions: Actions) -> None:
    form = text(actions.client.get("/signup"))
    # The rules are on the page before anything is submitted, tied to the field.
    assert 'id="password-hint"' in form and "at least 12 characters long" in form
    assert re.search(r'<input[^>]*aria-describedby="password-hint"[^>]*id="password"', form)

    response = actions.post("/signup", email="not an address", password="short")
    page = text(response)
    assert response.status_code == 400
    assert 'id="email-error">Enter a valid email address' in page
    assert 'id="password-error">Use at least 12 characters.' in page
    summary = page.split("data-error-summary", 1)[1].split("</div>", 1)[0]
    assert "There are problems" in summary
    assert '<a href="#email">Email: Enter a valid email address' in summary
    assert '<a href="#password">Password: Use at least 12 characters.' in summary
    assert 'tabindex="-1"' in page.split("data-error-summary")[0][-200:]  # app.js focuses it


def test_new_password_must_differ_from_the_current_one(actions: Actions) -> None:
    actions.create_user()
    actions.sign_in()
    form = text(actions.client.get("/settings/password"))
    assert "different from your current password" in form
    same = actions.post("/settings/password", password=PASSWORD)
    assert same.status_code == 400
    assert "That is your current password. Choose a new one." in text(same)
    changed = actions.post("/settings/password", password="a brand new passphrase here")
    assert changed.status_code == 302
    assert "notice-success" in text(actions.client.get("/settings"))


def test_check_inbox_and_unverified_pages_have_a_way_on(actions: Actions) -> None:
    inbox = actions.post("/signup", email="new@example.com", password="a long enough passphrase")
    page = text(inbox)
    assert "Check your inbox" in page
    assert 'action="/verify-email/resend"' in page and "Send the link again" in page
    assert 'Wrong address? <a href="/signup">' in page
    resent = actions.post(
        "/verify-email/resend", form_path="/signup", email="new@example.com"
    )
    assert "We sent a new link to new@example.com" in text(resent)

    unverified = actions.sign_in("new@example.com", "a long enough passphrase")
    page = text(unverified)
    assert unverified.status_code == 403 and "Send the link again" in page
    assert 'href="/signup">Sign up again with the right one' in page
    assert 'href="/login">Sign in with another account' in page


def test_email_change_pages_show_the_new_address_and_the_old_one_can_stop_it(
    actions: Actions, app: Flask
) -> None:
    actions.create_user()
    actions.sign_in()
    sent = actions.post("/settings/email", email="new.address@example.com")
    assert "new.address@example.com" in text(sent)
    confirm_path = actions.mailed_link("new.address@example.com")
    notice = actions.mails("user@example.com")[-1].body
    assert "stop the change" in notice
    cancel_path = re.search(r"https?://[^/\s]+(/settings/email/cancel\S+)", notice)
    assert cancel_path

    # The confirm page names both addresses.
    confirm = text(actions.client.get(confirm_path))
    assert "from <strong>user@example.com</strong> to" in confirm
    assert 'data-testid="new-email">new.address@example.com<' in confirm

    # Opened while signed out: the sign-in page says why, and comes back to the link.
    stranger = app.test_client()
    bounced = stranger.get(confirm_path)
    assert bounced.status_code == 302 and bounced.location.startswith("/login?next=")
    assert "Sign in to finish changing your email address." in text(stranger.get(bounced.location))

    # The old address's link asks first (mail scanners prefetch), then stops the change.
    mailbox = app.test_client()
    asked = text(mailbox.get(cancel_path.group(1)))
    assert "Stop the email change" in asked and "new.address@example.com" in asked
    assert actions.user("user@example.com").email == "user@example.com"
    cancel, token = cancel_path.group(1), cancel_path.group(1).split("token=")[1]
    stop = Actions(app, mailbox).post(cancel, token=token)
    assert stop.status_code == 200 and "The email stays" in text(stop)
    assert "no pending change to stop" in text(mailbox.get(cancel))
    again = Actions(app, mailbox).post(cancel, form_path="/login", token=token)
    assert again.status_code == 409
    # The confirm link no longer changes anything.
    token = confirm_path.split("token=")[1]
    late = actions.post("/settings/email/confirm", form_path=confirm_path, token=token)
    assert late.status_code == 400 and actions.user("user@example.com").email == "user@example.com"
    activity = text(actions.client.get("/settings/activity"))
    assert "Email change to new.address@example.com stopped from the old address" in activity


def test_failed_reauthentication_is_not_called_a_failed_sign_in(actions: Actions) -> None:
    actions.create_user()
    actions.sign_in()
    refused = actions.reauthenticate(password="not the password")
    assert refused.status_code == 401
    page = text(refused)  # the error sits at the password field, linked from the summary
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="password"', page) or re.search(
        r'<input[^>]*id="password"[^>]*aria-invalid="true"', page
    )
    assert 'id="password-error">' in page and '<a href="#password">' in page
    activity = text(actions.client.get("/settings/activity"))
    assert "Failed password confirmation (before changing a setting)" in activity
    assert "Failed sign-in" not in activity


def test_favicon_and_logo(actions: Actions) -> None:
    favicon = actions.client.get("/favicon.ico")
    assert favicon.status_code == 301 and favicon.location.endswith("/static/favicon.svg")
    for asset in ("favicon.svg", "logo.svg", "app.js"):
        with actions.client.get("/static/" + asset) as response:
            assert response.status_code == 200
    page = text(actions.client.get("/login"))
    assert 'rel="icon" href="/static/favicon.svg"' in page
    assert '<img src="/static/logo.svg" alt=""' in page
    with actions.client.get("/static/app.css") as css:
        assert "@media (prefers-color-scheme: dark)" in text(css)


def test_a_wrong_code_is_shown_at_the_code_field(actions: Actions) -> None:
    secret = actions.create_user(totp=True).totp_secret or ""
    actions.sign_in()
    totp, now = pyotp.TOTP(secret), time.time()
    near = {totp.at(now + drift) for drift in (-60, -30, 0, 30, 60)}
    wrong = next(code for code in ("000000", "111111", "222222") if code not in near)
    page = text(actions.enter_code(wrong))
    assert re.search(r'<input[^>]*aria-invalid="true"[^>]*id="code"', page) or re.search(
        r'<input[^>]*id="code"[^>]*aria-invalid="true"', page
    )
    assert 'id="code-error">' in page and '<a href="#code">' in page  # field and summary


def _crawlable_get_paths(app: Flask) -> list[str]:
    """Every Console page a GET without arguments reaches (the app's own URL map)."""
    skip = ("/static", "/auth/", "/.well-known", "/metrics", "/healthz", "/readyz")
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" in (rule.methods or ()) and not rule.arguments and not rule.rule.startswith(skip):
            paths.append(rule.rule)
    return sorted(set(paths))


def _idle_for_two_minutes(app: Flask) -> None:
    from datetime import timedelta

    from sqlalchemy import update

    from gateway.db import new_session
    from gateway.models import LoginSession, utcnow

    with app.app_context(), new_session() as session:
        session.execute(update(LoginSession).values(last_seen_at=utcnow() - timedelta(minutes=2)))
        session.commit()


def test_get_pages_commit_nothing(actions: Actions) -> None:
    """A GET reads: no Console page commits the request's unit of work (only the bookkeeping
    of ``gateway.db.own_transaction``, apart from it, may write)."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    from gateway.db import OWN_TRANSACTION

    commits: list[str] = []
    current = {"path": ""}

    def counted(session: Session) -> None:
        if current["path"] and not session.info.get(OWN_TRANSACTION):
            commits.append(current["path"])

    actions.create_user()
    signed_out = _crawlable_get_paths(actions.app) + [
        "/login?login_hint=user@example.com&next=/segment/",
        "/verify-email?token=x", "/reset-password?token=x", "/settings/email/cancel?token=x",
    ]
    event.listen(Session, "after_commit", counted)
    try:
        for path in signed_out:
            current["path"] = "signed out " + path
            assert actions.client.get(path).status_code < 500, path
        event.remove(Session, "after_commit", counted)
        actions.sign_in()
        event.listen(Session, "after_commit", counted)
        for path in [*signed_out, "/link/segment", "/settings/email/confirm?token=x"]:
            if path != "/logout":  # asks first; the crawl stays signed in
                current["path"] = ""  # the test's own set-up is not counted
                _idle_for_two_minutes(actions.app)  # each page also refreshes the last use
                current["path"] = "signed in " + path
                assert actions.client.get(path).status_code < 500, path
    finally:
        if event.contains(Session, "after_commit", counted):
            event.remove(Session, "after_commit", counted)
    assert commits == []


# --- one vocabulary and one date format (issue 22, item 10) -----------------------------------


def visible_text(page: str) -> str:
    """The words a person reads: tags and attribute values removed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def test_the_plan_has_its_product_name_and_a_link_before_and_after_upgrading(
    actions: Actions,
) -> None:
    actions.create_user()
    actions.sign_in()
    for name in ("Console Trial", "Console Unlimited"):
        page = text(actions.client.get("/settings"))
        plan = re.search(r'data-testid="settings-plan"[^>]*>([^<]*)<', page)
        assert plan and plan.group(1) == name, page
        assert 'href="/upgrade"' in page.split('data-testid="settings-plan"', 1)[1][:400]
        for raw in ("trial", "upgraded"):
            assert not re.search(rf"\b{raw}\b", visible_text(page)), raw
        actions.post("/upgrade")


def dated_pages(actions: Actions, app: Flask) -> list[str]:
    """Settings pages that show a time: overview (password changed), sessions, activity,
    remembered devices (a device remembered at the 2FA step)."""
    user = actions.create_user(totp=True)
    actions.sign_in()
    actions.post("/login/2fa", code=pyotp.TOTP(user.totp_secret or "").now(), remember="y")
    pages = ["/settings", "/settings/sessions", "/settings/activity", "/settings/devices"]
    return [text(actions.client.get(path)) for path in pages]


def test_every_time_is_one_time_element_in_one_format(actions: Actions, app: Flask) -> None:
    """One format on every page: a <time datetime> the script shows in local time, in UTC
    (labelled) without it; never an ISO date for people to read."""
    for page in dated_pages(actions, app):
        main = page.split('<main', 1)[1]
        times = re.findall(r'<time datetime="([^"]+)" data-local-time[^>]*>([^<]+)</time>', main)
        assert times, main
        for stamp, shown in times:
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", stamp), stamp
            assert re.fullmatch(r"\d{1,2} [A-Z][a-z]{2} \d{4}(, \d\d:\d\d UTC)?", shown), shown
        assert not re.search(r"\d{4}-\d\d-\d\d", visible_text(main)), visible_text(main)


def test_pages_speak_of_what_people_see_not_of_scripts(actions: Actions, app: Flask) -> None:
    for page in dated_pages(actions, app):
        assert "script" not in visible_text(page.split("<main", 1)[1]).lower()


def test_the_lockout_message_states_its_duration_once(actions: Actions, app: Flask) -> None:
    actions.create_user()
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        actions.sign_in(password="wrong password!!")
    locked = actions.sign_in()
    assert locked.status_code == 429
    said = visible_text(text(locked).split("<main", 1)[1])
    assert len(re.findall(r"\d+ minutes?", said)) == 1, said


def primary_actions(page: str) -> list[str]:
    """The labels of the buttons and button-styled links that are not secondary."""
    main = page.split("<main", 1)[1]
    found = re.findall(r'<(?:button|a)\b([^>]*)>(.*?)</(?:button|a)>', main, re.S)
    return [
        visible_text(label).strip() for attrs, label in found
        if re.search(r'class="[^"]*\bbutton\b', attrs) or attrs.lstrip().startswith("type=")
        if not re.search(r'class="[^"]*\b(secondary|link-button)\b', attrs)
    ]


def test_recovery_codes_are_shown_once_with_one_primary_action(actions: Actions) -> None:
    actions.create_user(totp=True)
    actions.sign_in()
    user = actions.user("user@example.com")
    actions.enter_code(pyotp.TOTP(user.totp_secret or "").now())
    page = text(actions.post("/settings/2fa/recovery-codes", form_path="/settings"))
    codes = re.findall(r"<li><code>([0-9a-f-]+)</code></li>", page)
    assert len(codes) == 10
    shown = visible_text(page)
    assert all(shown.count(code) == 1 for code in codes), shown
    assert primary_actions(page) == ["I saved them"], primary_actions(page)


def test_first_visit_to_home_reproaches_nothing(actions: Actions) -> None:
    """Opening the Console's address is no attempt to see a protected page: no notice."""
    response = actions.client.get("/")
    assert response.status_code == 302 and response.location.startswith("/login")
    page = text(actions.client.get(response.location))
    assert "Please sign in to see that page." not in page
    assert 'class="notice' not in page


def test_sign_in_page_puts_focus_in_the_first_empty_field(actions: Actions) -> None:
    page = text(actions.client.get("/login"))
    assert re.search(r'<input[^>]*autofocus[^>]*id="email"', page)
    assert not re.search(r'<input[^>]*autofocus[^>]*id="password"', page)
    # Sent by a product's login page with the address filled: the password is next.
    hinted = text(actions.client.get("/login?login_hint=user%40example.com"))
    assert re.search(r'<input[^>]*autofocus[^>]*id="password"', hinted)
    assert not re.search(r'<input[^>]*autofocus[^>]*id="email"', hinted)


def test_forgot_password_link_carries_the_typed_email(actions: Actions) -> None:
    actions.create_user()
    page = text(actions.sign_in("user@example.com", "wrong password!!"))
    # Both ways to the reset (in the error and under the form) carry the address typed.
    assert page.count('href="/forgot-password?email=user@example.com"') == 2
    assert 'data-email-from="email"' in page
    forgot = text(actions.client.get("/forgot-password?email=user%40example.com"))
    assert re.search(r'<input[^>]*id="email"[^>]*value="user@example.com"', forgot)
