"""Passkeys in the Console (issue 15): add after re-authentication, name, rename, remove; a
passkey as second factor and for passwordless sign-in; re-authentication with a passkey; the
amr the products receive. The refusals are in tests/console/test_passkey_refusals.py."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select, update

from gateway.db import new_session
from gateway.models import PasskeyCredential, ProductLink, RecoveryCode
from tests.support.apps import dispose
from tests.support.authenticator import SoftAuthenticator
from tests.support.console import Actions, age_sessions, current_code, lock_out
from tests.support.csrf import csrf_token
from tests.support.passkey_flows import (
    ORIGIN,
    events,
    live_methods,
    options,
    passkey_app,
    passwordless,
    register,
    signed_in,
    stored_passkeys,
    submit,
)
from tests.support.proxy_gateway import echoed, gateway_settings

EMAIL = "user@example.com"


@pytest.fixture
def app(database_url: str) -> Flask:
    return passkey_app(database_url)


def second_factor(actions: Actions, phone: SoftAuthenticator, **overrides: Any) -> Any:
    challenge = options(actions.client, "second-factor", "/login/2fa")
    return submit(actions.client, "/login/2fa/passkey", phone.get(challenge, **overrides),
                  "/login/2fa")


def test_login_page_offers_passkeys_without_inline_script(client: Any) -> None:
    response = client.get("/login")
    page = response.get_data(as_text=True)
    assert 'autocomplete="username webauthn"' in page  # passkey autofill on the email field
    assert "Sign in with a passkey" in page
    # The passkey form stays hidden until the static script finds WebAuthn; the password form
    # works without JavaScript.
    assert re.search(r'<form[^>]*data-webauthn="login"[^>]*hidden>', page)
    assert '<script src="/static/webauthn.js" defer></script>' in page
    assert "<script>" not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    with client.get("/static/webauthn.js") as script:
        assert script.status_code == 200
        assert 'mediation: "conditional"' in script.get_data(as_text=True)


def test_adding_needs_a_recent_reauthentication(app: Flask, actions: Actions) -> None:
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    age_sessions(app)
    page = actions.client.get("/settings/passkeys")
    assert page.status_code == 302 and "/settings/reauthenticate" in page.headers["Location"]
    token = re.search(r'value="([^"]+)"', actions.client.get("/settings/reauthenticate")
                      .get_data(as_text=True))
    assert token
    denied = actions.client.post("/passkeys/options/register",
                                 headers={"X-CSRFToken": token.group(1)})
    assert denied.status_code == 403
    actions.reauthenticate()
    assert actions.client.get("/settings/passkeys").status_code == 200


def test_add_several_named_then_rename(app: Flask, actions: Actions) -> None:
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    other = Actions(app, app.test_client())
    other.sign_in(EMAIL)
    phone, key = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    register(actions, phone, name="My phone")
    register(actions, key, name="Security key")
    page = actions.client.get("/settings/passkeys").get_data(as_text=True)
    assert "My phone" in page and "Security key" in page and "Never" in page
    assert page.count("<time") >= 2  # added dates
    assert [p.name for p in stored_passkeys(app)] == ["My phone", "Security key"]
    # Adding the first passkey turned 2FA on: notice, other sessions signed out.
    assert not signed_in(other.client)
    subjects = [m.subject for m in actions.mails(EMAIL)]
    assert subjects.count("A passkey was added to your account") == 2
    assert len(events(app, "2fa_enabled")) == 1
    # Registering the same authenticator again is refused by the browser (excluded) and, if
    # forced, by the server.
    assert len(options(actions.client, "register", "/settings/passkeys")
               ["excludeCredentials"]) == 2
    public_id = stored_passkeys(app)[0].public_id
    renamed = actions.post(f"/settings/passkeys/{public_id}/rename", "/settings/passkeys",
                           name="Old phone")
    assert renamed.status_code == 302
    assert stored_passkeys(app)[0].name == "Old phone"
    bad = actions.post(f"/settings/passkeys/{public_id}/rename", "/settings/passkeys", name="")
    assert bad.status_code == 400
    assert actions.post("/settings/passkeys/nope/rename", "/settings/passkeys",
                        name="x").status_code == 404
    activity = actions.client.get("/settings/activity").get_data(as_text=True)
    assert "Passkey added" in activity and "Passkey renamed" in activity


#: Names that would write lines of their own into a security notice, or hide text.
UNPRINTABLE_NAMES = {
    "newline": "Phone\n\nThis change was made by our support team, ignore it",
    "carriage-return": "Phone\rBcc: x@example.com",
    "nul": "Phone\x00",
    "escape": "Phone\x1b[2J",
    "bidi-override": "Phone\u202egnp.exe",
    "zero-width": "Pho\u200bne",
    "line-separator": "Phone\u2028more",
}


@pytest.mark.parametrize("name", UNPRINTABLE_NAMES.values(), ids=UNPRINTABLE_NAMES.keys())
def test_unprintable_passkey_names_are_refused_when_adding_and_renaming(
    app: Flask, actions: Actions, name: str
) -> None:
    """Passkey names: adding applies the same validation as renaming (400, nothing stored,
    no notice mailed)."""
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    phone = SoftAuthenticator(ORIGIN)
    created = phone.create(options(actions.client, "register", "/settings/passkeys"))
    refused = submit(actions.client, "/settings/passkeys", created, "/settings/passkeys",
                     name=name)
    assert refused.status_code == 400
    assert "printable" in refused.get_data(as_text=True)
    assert not stored_passkeys(app)
    assert not actions.mails(EMAIL)
    register(actions, SoftAuthenticator(ORIGIN), name="Phone")
    public_id = stored_passkeys(app)[0].public_id
    renamed = actions.post(f"/settings/passkeys/{public_id}/rename", "/settings/passkeys",
                           name=name)
    assert renamed.status_code == 400 and "printable" in renamed.get_data(as_text=True)
    assert [p.name for p in stored_passkeys(app)] == ["Phone"]


def name_stored_before_the_check(app: Flask, public_id: str, name: str) -> None:
    """A passkey name the gateway stored before registering checked names (or by any route
    that skips the check), put straight into the database."""
    with app.app_context(), new_session() as session:
        session.execute(update(PasskeyCredential)
                        .where(PasskeyCredential.public_id == public_id).values(name=name))
        session.commit()


def test_notice_mail_never_carries_control_characters_of_a_stored_name(
    app: Flask, actions: Actions
) -> None:
    """Mail text: a name stored before the check (or by any other route) still reaches the
    notice on one line, without control characters."""
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    register(actions, SoftAuthenticator(ORIGIN), name="Phone")
    public_id = stored_passkeys(app)[0].public_id
    name_stored_before_the_check(app, public_id, UNPRINTABLE_NAMES["newline"])
    assert actions.post(f"/settings/passkeys/{public_id}/remove",
                        "/settings/passkeys").status_code == 302
    notice = actions.mails(EMAIL)[-1]
    assert notice.subject == "A passkey was removed from your account"
    first_line = notice.body.split("\n", 1)[0]
    assert "Phone This change was made by our support team, ignore it" in first_line
    assert all(c.isprintable() or c == "\n" for c in notice.body)


def test_passkey_as_second_factor(app: Flask, actions: Actions) -> None:
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    phone = SoftAuthenticator(ORIGIN)
    register(actions, phone)
    actions.sign_out()
    assert actions.sign_in(EMAIL).headers["Location"].endswith("/login/2fa")
    page = actions.client.get("/login/2fa").get_data(as_text=True)
    assert "Use a passkey" in page
    assert 'name="code"' not in page  # no authenticator app: the passkey is the factor
    response = second_factor(actions, phone)
    assert response.status_code == 302 and signed_in(actions.client)
    assert live_methods(app, EMAIL)[-1] == "pwd,hwk,user,mfa"
    assert stored_passkeys(app)[0].last_used_at is not None


def test_passkey_instead_of_totp_code(app: Flask, actions: Actions) -> None:
    user = actions.create_user(EMAIL, totp=True)
    actions.sign_in(EMAIL)
    actions.enter_code(current_code(user.totp_secret or ""))
    phone = SoftAuthenticator(ORIGIN)
    register(actions, phone)
    actions.sign_out()
    actions.sign_in(EMAIL)
    page = actions.client.get("/login/2fa").get_data(as_text=True)
    assert "Use a passkey" in page and 'name="code"' in page  # either one
    assert second_factor(actions, phone).status_code == 302
    assert signed_in(actions.client)


def test_passwordless_sign_in(app: Flask, actions: Actions) -> None:
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    phone = SoftAuthenticator(ORIGIN)
    register(actions, phone)
    actions.sign_out()
    login_options = options(actions.client, "login")
    assert "allowCredentials" not in login_options or not login_options["allowCredentials"]
    credential = phone.get(login_options)
    response = submit(actions.client, "/login/passkey", credential, "/login",
                      next="/settings/sessions")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/settings/sessions")
    assert live_methods(app, EMAIL)[-1] == "hwk,user,mfa"
    login = [e for e in events(app, "login")]
    assert '"methods": ["hwk", "user", "mfa"]' in login[-1].detail


def test_synced_passkey_is_a_software_key(app: Flask, actions: Actions) -> None:
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    synced = SoftAuthenticator(ORIGIN, synced=True)
    register(actions, synced)
    actions.sign_out()
    assert passwordless(actions.client, synced).status_code == 302
    assert live_methods(app, EMAIL)[-1] == "swk,user,mfa"


def test_reauthenticate_with_a_passkey(app: Flask, actions: Actions) -> None:
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    phone = SoftAuthenticator(ORIGIN)
    codes = register(actions, phone)
    age_sessions(app)
    page = actions.client.get("/settings/reauthenticate").get_data(as_text=True)
    assert "Confirm with a passkey" in page
    # The passkey is the second factor: without it, only a recovery code goes with the password.
    assert 'for="code">Recovery code<' in page
    assert actions.reauthenticate().status_code == 401  # the password alone does not do
    assert actions.reauthenticate(code="12345678901").status_code == 401
    challenge = options(actions.client, "reauth", "/settings/reauthenticate")
    assert challenge["userVerification"] == "required"
    response = submit(actions.client, "/settings/reauthenticate/passkey", phone.get(challenge),
                      "/settings/reauthenticate", next="/settings/passkeys")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/settings/passkeys")
    assert actions.client.get("/settings/passkeys").status_code == 200
    assert '"method": "passkey"' in events(app, "reauthenticated")[-1].detail
    age_sessions(app)  # a lost passkey: the password and a recovery code
    assert actions.reauthenticate(code=codes[0]).status_code == 302
    assert actions.client.get("/settings/passkeys").status_code == 200


def test_removing_the_last_second_factor_turns_2fa_off(app: Flask, actions: Actions) -> None:
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    phone, key = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    register(actions, phone, name="Phone")
    register(actions, key, name="Key")
    other = Actions(app, app.test_client())
    other.sign_in(EMAIL)
    assert second_factor(other, key).status_code == 302
    first, last = stored_passkeys(app)
    assert actions.post(f"/settings/passkeys/{first.public_id}/remove",
                        "/settings/passkeys").status_code == 302
    assert not signed_in(other.client)  # every removal ends the other sessions
    assert not events(app, "2fa_disabled")
    page = actions.client.get("/settings/passkeys").get_data(as_text=True)
    assert "turns two-factor authentication off" in page
    # After the window, removal asks for re-authentication first.
    age_sessions(app)
    denied = actions.post(f"/settings/passkeys/{last.public_id}/remove", "/settings")
    assert denied.status_code == 302 and "reauthenticate" in denied.headers["Location"]
    assert len(stored_passkeys(app)) == 1
    challenge = options(actions.client, "reauth", "/settings/reauthenticate")
    submit(actions.client, "/settings/reauthenticate/passkey", key.get(challenge),
           "/settings/reauthenticate")
    removed = actions.post(f"/settings/passkeys/{last.public_id}/remove", "/settings/passkeys")
    assert removed.status_code == 302
    assert not stored_passkeys(app)
    assert events(app, "2fa_disabled")
    assert not recovery_codes_left(app)  # the codes went with 2FA
    notice = actions.mails(EMAIL)[-1]
    assert notice.subject == "A passkey was removed from your account"
    assert "two-factor authentication is now off" in notice.body
    actions.sign_out()
    assert actions.sign_in(EMAIL).headers["Location"].endswith("/")  # no second step any more


def test_someone_elses_passkey_cannot_be_renamed_or_removed(app: Flask, actions: Actions) -> None:
    owner = Actions(app, app.test_client())
    owner.create_user("owner@example.com")
    owner.sign_in("owner@example.com")
    register(owner, SoftAuthenticator(ORIGIN))
    theirs = stored_passkeys(app)[0].public_id
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    assert actions.post(f"/settings/passkeys/{theirs}/remove",
                        "/settings/passkeys").status_code == 404
    assert len(stored_passkeys(app)) == 1


def test_products_see_the_passkey_in_the_assertion(
    database_url: str, upstreams: dict[str, Any], tmp_path: Any
) -> None:
    """Done when: a passkey alone reaches Segment and SendGrid, and they see it in amr."""
    # The echo products check the assertion's issuer (the default public URL); the passkey
    # origin is set explicitly (an RP id must be a domain).
    app = passkey_app(database_url, **gateway_settings(
        upstreams, tmp_path, PUBLIC_URL="http://127.0.0.1:5000", WEBAUTHN_RP_ID="localhost",
        WEBAUTHN_ORIGIN=ORIGIN,
    ))
    try:
        actions = Actions(app, app.test_client())
        user = actions.create_user(EMAIL)
        with app.app_context(), new_session() as session:
            session.add_all([ProductLink(user_id=user.id, product="segment", product_user_id="s1"),
                             ProductLink(user_id=user.id, product="sendgrid",
                                         product_user_id="g1")])
            session.commit()
        actions.sign_in(EMAIL)
        phone = SoftAuthenticator(ORIGIN)
        register(actions, phone)
        actions.sign_out()
        assert passwordless(actions.client, phone).status_code == 302
        for product in ("segment", "sendgrid"):
            identity = echoed(actions.client.get(f"/{product}/"))["identity"]
            assert identity["email"] == EMAIL
            assert identity["amr"] == ["hwk", "user", "mfa"]
    finally:
        dispose(app)


def test_password_reset_needs_the_passkey(app: Flask, actions: Actions) -> None:
    """The mailbox alone does not reset the password of an account whose second factor is a
    passkey: the reset page asks for it (issue 12's seam ``second_factors``)."""
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    phone = SoftAuthenticator(ORIGIN)
    register(actions, phone)
    actions.sign_out()
    assert actions.post("/forgot-password", email=EMAIL).status_code == 200
    link = actions.mailed_link(EMAIL)
    token = link.split("token=", 1)[1]
    page = actions.client.get(link).get_data(as_text=True)
    assert "Confirm with a passkey" in page and 'name="code"' not in page
    new_password = "a brand new passkey-guarded passphrase"
    refused = actions.post("/reset-password", link, token=token, password=new_password)
    assert refused.status_code == 401
    assert not signed_in(actions.client)
    from tests.support.csrf import csrf_token

    response = actions.client.post(f"/passkeys/options/reset?token={token}",
                                   headers={"X-CSRFToken": csrf_token(actions.client, link)})
    assert response.status_code == 200
    proof = submit(actions.client, "/reset-password/passkey", phone.get(response.get_json()),
                   link, token=token)
    assert proof.status_code == 302
    page = actions.client.get(link).get_data(as_text=True)
    assert "Confirm with a passkey" not in page
    done = actions.post("/reset-password", link, token=token, password=new_password)
    assert done.status_code == 302 and signed_in(actions.client)
    assert live_methods(app, EMAIL)[-1] == "pwd,hwk,user,mfa"


def test_turning_off_the_app_keeps_the_passkey_as_second_factor(
    app: Flask, actions: Actions
) -> None:
    user = actions.create_user(EMAIL, totp=True)
    actions.sign_in(EMAIL)
    actions.enter_code(current_code(user.totp_secret or ""))
    register(actions, SoftAuthenticator(ORIGIN))
    response = actions.post("/settings/2fa/disable", "/settings/2fa/disable")
    assert response.status_code == 302
    page = actions.client.get("/settings").get_data(as_text=True)
    assert "sign-in still asks for your passkey" in page
    actions.sign_out()
    assert actions.sign_in(EMAIL).headers["Location"].endswith("/login/2fa")


# ----- recovery cannot be skipped (issue 22, item 1) ------------------------------------------

SUPPORT = "help@support.example"


def test_first_passkey_issues_recovery_codes_in_the_same_flow(database_url: str) -> None:
    """The passkey that turns 2FA on answers with recovery codes (shown once); a second one
    does not replace them; a browser without the passkey signs in with one of them."""
    app = passkey_app(database_url, SUPPORT_EMAIL=SUPPORT)
    actions = Actions(app, app.test_client())
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    codes = register(actions, SoftAuthenticator(ORIGIN), name="Phone")
    assert len(codes) == 10
    assert register(actions, SoftAuthenticator(ORIGIN), name="Key") == []  # 2FA was on already
    other = Actions(app, app.test_client())  # a browser without the passkey
    assert other.sign_in(EMAIL).headers["Location"].endswith("/login/2fa")
    step = other.client.get("/login/2fa").get_data(as_text=True)
    assert "Lost your passkey / phone?" in step and 'href="/login/2fa/recovery"' in step
    recovery = other.client.get("/login/2fa/recovery").get_data(as_text=True)
    assert f'href="mailto:{SUPPORT}"' in recovery  # failing the codes: a real support route
    answer = other.post("/login/2fa/recovery", code=codes[0])
    assert answer.status_code == 302 and signed_in(other.client)
    assert live_methods(app, EMAIL)[-1] == "pwd,recovery"


def test_second_step_without_recovery_codes_still_leads_to_support(database_url: str) -> None:
    """An account whose passkey predates recovery codes: the way out still ends somewhere."""
    app = passkey_app(database_url, SUPPORT_URL="https://help.example/console")
    actions = Actions(app, app.test_client())
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    register(actions, SoftAuthenticator(ORIGIN))
    with app.app_context(), new_session() as session:  # as an account of before issue 22
        for code in session.scalars(select(RecoveryCode)):
            session.delete(code)
        session.commit()
    overview = actions.client.get("/settings").get_data(as_text=True)
    assert "Create recovery codes" in overview  # settings ask for the missing codes
    actions.sign_out()
    actions.sign_in(EMAIL)
    step = actions.client.get("/login/2fa").get_data(as_text=True)
    assert "Lost your passkey / phone?" in step
    recovery = actions.client.get("/login/2fa/recovery").get_data(as_text=True)
    assert 'href="https://help.example/console"' in recovery


def test_passkey_only_reset_accepts_a_recovery_code(app: Flask, actions: Actions) -> None:
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    codes = register(actions, SoftAuthenticator(ORIGIN))
    actions.sign_out()
    actions.post("/forgot-password", email=EMAIL)
    link = actions.mailed_link(EMAIL)
    token = link.split("token=", 1)[1]
    page = actions.client.get(link).get_data(as_text=True)
    assert "Use a recovery code instead" in page
    with_code = f"/reset-password?token={token}&use=recovery"
    done = actions.post("/reset-password?use=recovery", with_code, token=token,
                        password="a brand new lost-passkey passphrase", code=codes[0])
    assert done.status_code == 302 and signed_in(actions.client)
    assert live_methods(app, EMAIL)[-1] == "pwd,recovery"


def test_contact_support_notices_name_the_support_route(database_url: str) -> None:
    app = passkey_app(database_url, SUPPORT_EMAIL=SUPPORT)
    actions = Actions(app, app.test_client())
    user = actions.create_user(EMAIL, totp=True)
    actions.sign_in(EMAIL)
    actions.enter_code(current_code(user.totp_secret or ""))
    register(actions, SoftAuthenticator(ORIGIN))
    actions.post("/settings/2fa/disable", "/settings/2fa/disable")
    actions.post("/settings/password", password="another fine passphrase here")
    notices = [m for m in actions.mails(EMAIL) if "contact support" in m.body.lower()]
    assert len(notices) >= 3
    for notice in notices:
        assert SUPPORT in notice.body, notice.body


# ----- a reset removes the passkeys chosen (issue 20) ---------------------------------------

def reset_proven_with(actions: Actions, phone: SoftAuthenticator) -> tuple[str, str]:
    """Ask for a reset link and prove the passkey on its page; the link and its token."""
    assert actions.post("/forgot-password", email=EMAIL).status_code == 200
    link = actions.mailed_link(EMAIL)
    token = link.split("token=", 1)[1]
    response = actions.client.post(f"/passkeys/options/reset?token={token}",
                                   headers={"X-CSRFToken": csrf_token(actions.client, link)})
    assert response.status_code == 200
    proof = submit(actions.client, "/reset-password/passkey", phone.get(response.get_json()),
                   link, token=token)
    assert proof.status_code == 302, proof.get_data(as_text=True)
    return link, token


def locked_out_passkey_owner(app: Flask, actions: Actions) -> SoftAuthenticator:
    """An account whose second factor is a passkey, signed out, locked by a stranger."""
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    phone = SoftAuthenticator(ORIGIN)
    register(actions, phone)
    actions.sign_out()
    lock_out(app, EMAIL)
    return phone


def test_account_lock_gives_way_to_a_passkey(app: Flask, actions: Actions) -> None:
    """A stranger's wrong passwords do not keep the passkey's owner out: a passkey is nothing
    to guess; signing in with it lifts the lock (audited)."""
    phone = locked_out_passkey_owner(app, actions)
    assert passwordless(actions.client, phone).status_code == 302
    assert signed_in(actions.client)
    lifted = events(app, "lockout_lifted")
    assert len(lifted) == 1 and '"by": "passkey"' in lifted[0].detail


def test_account_lock_gives_way_to_the_link_and_a_passkey(app: Flask, actions: Actions) -> None:
    phone = locked_out_passkey_owner(app, actions)
    link, token = reset_proven_with(actions, phone)
    new_password = "a brand new passkey-guarded passphrase"
    assert actions.post("/reset-password", link, token=token,
                        password=new_password).status_code == 302
    assert '"by": "password_reset"' in events(app, "lockout_lifted")[0].detail


NEW_PASSWORD = "a brand new passkey-guarded passphrase"


def owner_and_intruder(actions: Actions) -> tuple[SoftAuthenticator, SoftAuthenticator]:
    """The owner's passkey, and one an intruder added while in the account (its name holds a
    line break, stored before registering checked names)."""
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    mine, theirs = SoftAuthenticator(ORIGIN), SoftAuthenticator(ORIGIN)
    register(actions, mine, name="My phone")
    register(actions, theirs, name="Intruder")
    name_stored_before_the_check(
        actions.app, public_id_of(actions.app, "Intruder"), "Intruder\nBcc: evil@example.com"
    )
    actions.sign_out()
    return mine, theirs


def recovery_codes_left(app: Flask) -> int:
    with app.app_context(), new_session() as session:
        unused = select(RecoveryCode).where(RecoveryCode.used_at.is_(None))
        return len(session.scalars(unused).all())


def public_id_of(app: Flask, name_start: str) -> str:
    return next(p.public_id for p in stored_passkeys(app) if p.name.startswith(name_start))


def test_password_reset_removes_the_passkeys_chosen(app: Flask, actions: Actions) -> None:
    """An intruder's passkey does not outlive the reset its owner makes: the reset page lists
    the passkeys with "remove" for each, and the notice names them."""
    mine, theirs = owner_and_intruder(actions)
    link, token = reset_proven_with(actions, mine)
    page = actions.client.get(link).get_data(as_text=True)
    intruder = public_id_of(app, "Intruder")
    assert "My phone" in page and f'name="remove_passkey" value="{intruder}"' in page
    done = actions.post("/reset-password", link, token=token, password=NEW_PASSWORD,
                        remove_passkey=intruder)
    assert done.status_code == 302 and signed_in(actions.client)
    assert [p.name for p in stored_passkeys(app)] == ["My phone"]
    assert passwordless(Actions(app, app.test_client()).client, theirs).status_code == 401
    assert '"by": "password_reset"' in events(app, "passkey_removed")[-1].detail
    assert not events(app, "2fa_disabled")
    notice = actions.mails(EMAIL)[-1]
    assert notice.subject == "Your password was reset"
    assert "Intruder Bcc: evil@example.com" in notice.body  # named, on one line
    assert "\nBcc" not in notice.body
    assert "My phone" in notice.body and "/settings/passkeys" in notice.body


def test_reset_removing_the_last_second_factor_says_2fa_is_off(
    app: Flask, actions: Actions
) -> None:
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    phone = SoftAuthenticator(ORIGIN)
    register(actions, phone)
    actions.sign_out()
    link, token = reset_proven_with(actions, phone)
    done = actions.post("/reset-password", link, token=token, password=NEW_PASSWORD,
                        remove_passkey=stored_passkeys(app)[0].public_id)
    assert done.status_code == 302
    landing = actions.client.get(done.headers["Location"]).get_data(as_text=True)
    assert "Two-factor authentication is off" in landing
    assert not stored_passkeys(app) and events(app, "2fa_disabled")
    assert not recovery_codes_left(app)  # codes belong to 2FA, which is off: none outlives it
    assert "two-factor authentication is now off" in actions.mails(EMAIL)[-1].body
    settings = actions.client.get("/settings").get_data(as_text=True)
    assert 'data-testid="settings-passkeys">0<' in settings
    assert 'data-testid="2fa-status">Off<' in settings


def test_passkeys_are_removed_only_by_a_proven_reset(app: Flask, actions: Actions) -> None:
    """Removal needs the link, the second factor and the form's CSRF token; a passkey that is
    not the account's is a clear 400 and nothing changes."""
    mine, _theirs = owner_and_intruder(actions)
    assert actions.post("/forgot-password", email=EMAIL).status_code == 200
    link = actions.mailed_link(EMAIL)
    token = link.split("token=", 1)[1]
    intruder = public_id_of(app, "Intruder")
    unproven = actions.post("/reset-password", link, token=token, password=NEW_PASSWORD,
                            remove_passkey=intruder)
    assert unproven.status_code == 401 and len(stored_passkeys(app)) == 2
    link, token = reset_proven_with(actions, mine)
    no_csrf = actions.client.post("/reset-password", data={
        "token": token, "password": NEW_PASSWORD, "remove_passkey": intruder})
    assert no_csrf.status_code == 400
    for hostile in ("not-ours", "x" * 5000, "\x00", intruder + "\u202e"):
        refused = actions.post("/reset-password", link, token=token, password=NEW_PASSWORD,
                               remove_passkey=hostile)
        assert refused.status_code == 400, hostile
    assert len(stored_passkeys(app)) == 2 and not signed_in(actions.client)
    assert actions.post("/reset-password", link, token=token,
                        password=NEW_PASSWORD).status_code == 302  # the link is unspent


def test_sign_out_everywhere_offers_to_remove_passkeys(app: Flask, actions: Actions) -> None:
    mine, _theirs = owner_and_intruder(actions)
    actions.sign_in(EMAIL)
    assert second_factor(actions, mine).status_code == 302
    page = actions.client.get("/settings/sessions/revoke-all").get_data(as_text=True)
    intruder = public_id_of(app, "Intruder")
    assert f'action="/settings/passkeys/{intruder}/remove"' in page and "My phone" in page
    removed = actions.post(f"/settings/passkeys/{intruder}/remove",
                           "/settings/sessions/revoke-all", next="/settings/sessions/revoke-all")
    assert removed.status_code == 302
    assert removed.headers["Location"].endswith("/settings/sessions/revoke-all")
    assert [p.name for p in stored_passkeys(app)] == ["My phone"]
    age_sessions(app)  # not fresh: the page asks to confirm first instead of offering removal
    stale = actions.client.get("/settings/sessions/revoke-all").get_data(as_text=True)
    assert "/remove" not in stale and "/settings/reauthenticate?next=" in stale


def test_the_passkey_autofill_request_never_replaces_the_session_cookie(client: Any) -> None:
    """The login page starts a passkey autofill request as it loads; if its answer set a new
    session cookie it could land after a quick password submit's and lose that sign-in (the
    second step bounced back to /login: seen in the browser journey under load)."""
    from tests.support.csrf import csrf_token

    token = csrf_token(client, "/login")
    response = client.post("/passkeys/options/login", headers={"X-CSRFToken": token})
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
