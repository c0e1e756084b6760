"""Passkeys: every response the gateway must refuse (issue 15), with real WebAuthn objects from
a software authenticator. A refusal is a clear 4xx, signs nobody in and is audited."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import update

from gateway.db import new_session
from gateway.models import PasskeyChallenge, utcnow
from tests.support.authenticator import SoftAuthenticator
from tests.support.console import Actions
from tests.support.passkey_flows import (
    ORIGIN,
    events,
    options,
    passkey_app,
    passwordless,
    register,
    signed_in,
    stored_passkeys,
    submit,
)

EMAIL = "user@example.com"


@pytest.fixture
def app(database_url: str) -> Flask:
    return passkey_app(database_url)


@pytest.fixture
def phone(actions: Actions) -> SoftAuthenticator:
    """A person with one passkey, signed out again."""
    authenticator = SoftAuthenticator(ORIGIN)
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    register(actions, authenticator)
    actions.sign_out()
    assert not signed_in(actions.client)
    return authenticator


def refused(response: object, status: int = 401) -> None:
    assert response.status_code == status
    assert "That passkey did not work" in response.get_data(as_text=True)


def test_the_passkey_itself_signs_in(actions: Actions, phone: SoftAuthenticator) -> None:
    """The baseline every refusal below differs from in one thing only."""
    response = passwordless(actions.client, phone)
    assert response.status_code == 302 and signed_in(actions.client)


def test_wrong_origin_is_refused(actions: Actions, phone: SoftAuthenticator, app: Flask) -> None:
    """A phishing page at another origin relays the ceremony: the client data names it."""
    refused(passwordless(actions.client, phone, origin="https://login.evil.example"))
    assert not signed_in(actions.client)
    failed = events(app, "login_failed")
    assert failed and '"reason": "verification"' in failed[-1].detail


def test_wrong_rp_id_is_refused(actions: Actions, phone: SoftAuthenticator) -> None:
    refused(passwordless(actions.client, phone, rp_id="evil.example"))
    assert not signed_in(actions.client)


def test_replayed_challenge_is_refused(actions: Actions, phone: SoftAuthenticator) -> None:
    """A challenge is spent by its first use; replaying the cookie of that moment does not
    bring it back."""
    client = actions.client
    challenge = options(client, "login")
    cookie = client.get_cookie(actions.app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None
    first = submit(client, "/login/passkey", phone.get(challenge), "/login")
    assert first.status_code == 302 and signed_in(client)
    actions.sign_out()
    # The browser's state from before the first use, cookie and all:
    client.set_cookie(actions.app.config["SESSION_COOKIE_NAME"], cookie.value)
    again = phone.get(challenge)  # signed again, counter higher: only the challenge is old
    refused(submit(client, "/login/passkey", again, "/login"))
    assert not signed_in(client)


def test_replayed_challenge_in_same_session_is_refused(
    actions: Actions, phone: SoftAuthenticator
) -> None:
    client = actions.client
    assert passwordless(client, phone).status_code == 302
    challenge = options(client, "reauth", "/settings/reauthenticate")
    ok = submit(client, "/settings/reauthenticate/passkey", phone.get(challenge),
                "/settings/reauthenticate")
    assert ok.status_code == 302
    replay = submit(client, "/settings/reauthenticate/passkey", phone.get(challenge),
                    "/settings/reauthenticate")
    assert replay.status_code == 401


def test_challenge_from_another_session_is_refused(
    app: Flask, actions: Actions, phone: SoftAuthenticator
) -> None:
    """The attacker's page got a challenge in the attacker's session; the victim's answer to
    it, posted from another browser session, does not count (and vice versa)."""
    theirs = options(app.test_client(), "login")
    client = actions.client
    options(client, "login")  # this session has a challenge of its own too
    refused(submit(client, "/login/passkey", phone.get(theirs), "/login"))
    assert not signed_in(client)


def test_expired_challenge_is_refused(
    app: Flask, actions: Actions, phone: SoftAuthenticator
) -> None:
    client = actions.client
    challenge = options(client, "login")
    with app.app_context(), new_session() as session:
        session.execute(update(PasskeyChallenge).values(expires_at=utcnow() - timedelta(1)))
        session.commit()
    refused(submit(client, "/login/passkey", phone.get(challenge), "/login"))


def test_unknown_credential_is_refused(
    app: Flask, actions: Actions, phone: SoftAuthenticator
) -> None:
    stranger = SoftAuthenticator(ORIGIN)
    offered = options(actions.client, "login")
    fake = {"rp": {"id": "localhost"}, "user": {"id": "c29tZW9uZQ"}, "challenge": "AA"}
    stranger.create(fake)  # a passkey the gateway never saw
    refused(submit(actions.client, "/login/passkey", stranger.get(offered), "/login"))
    assert not signed_in(actions.client)
    assert '"reason": "unknown_credential"' in events(app, "login_failed")[-1].detail


def test_someone_elses_passkey_is_refused_as_second_factor(
    app: Flask, actions: Actions, phone: SoftAuthenticator
) -> None:
    """At the 2FA step only the account's own passkeys count."""
    other = Actions(app, app.test_client())
    other.create_user("other@example.com")
    other.sign_in("other@example.com")
    theirs = SoftAuthenticator(ORIGIN)
    register(other, theirs)
    actions.sign_in(EMAIL)
    challenge = options(actions.client, "second-factor", "/login/2fa")
    response = submit(actions.client, "/login/2fa/passkey", theirs.get(challenge), "/login/2fa")
    assert response.status_code == 401
    assert not signed_in(actions.client)


def test_counter_regression_is_refused_and_audited(
    app: Flask, actions: Actions, phone: SoftAuthenticator
) -> None:
    """A counter that goes backwards means two copies of the key: refused, and the person's
    activity says so."""
    client = actions.client
    assert passwordless(client, phone, counter=5).status_code == 302
    actions.sign_out()
    refused(passwordless(client, phone, counter=3))
    assert not signed_in(client)
    regression = events(app, "passkey_counter_regression")
    assert len(regression) == 1
    assert json.loads(regression[0].detail)["stored"] == 5
    assert stored_passkeys(app)[0].sign_count == 5
    # The same counter again is a regression too (it must go up).
    refused(passwordless(client, phone, counter=5))
    assert passwordless(client, phone, counter=6).status_code == 302


def test_user_verification_is_required_for_passwordless(
    actions: Actions, phone: SoftAuthenticator
) -> None:
    """Without the authenticator's PIN or biometric, a passkey alone is one factor: refused."""
    refused(passwordless(actions.client, phone, uv=False))
    assert not signed_in(actions.client)
    assert options(actions.client, "login")["userVerification"] == "required"


def test_second_factor_accepts_presence_only(
    app: Flask, actions: Actions, phone: SoftAuthenticator
) -> None:
    """After the password, the passkey is the second factor even without verification."""
    assert actions.sign_in(EMAIL).headers["Location"].endswith("/login/2fa")
    challenge = options(actions.client, "second-factor", "/login/2fa")
    response = submit(actions.client, "/login/2fa/passkey", phone.get(challenge, uv=False),
                      "/login/2fa")
    assert response.status_code == 302 and signed_in(actions.client)


@pytest.mark.parametrize("credential", ["", "not json", "[]", '{"response": 1}',
                                        '{"id": "x", "rawId": "%%%", "response": {}}',
                                        '{"response": {"clientDataJSON": "AAAA"}}', "x" * 70_000])
def test_malformed_response_is_a_clear_400(
    actions: Actions, phone: SoftAuthenticator, credential: str
) -> None:
    options(actions.client, "login")
    response = submit(actions.client, "/login/passkey", credential, "/login")
    assert response.status_code in (400, 401, 413)  # 413: over the form size limit
    assert not signed_in(actions.client)


def test_refusals_are_throttled(database_url: str) -> None:
    app = passkey_app(database_url, LOGIN_MAX_FAILURES=3, IP_MAX_ATTEMPTS=1000)
    actions = Actions(app, app.test_client())
    authenticator = SoftAuthenticator(ORIGIN)
    actions.create_user(EMAIL)
    actions.sign_in(EMAIL)
    register(actions, authenticator)
    actions.sign_out()
    for _ in range(3):
        assert passwordless(actions.client, authenticator, uv=False).status_code == 401
    locked = passwordless(actions.client, authenticator)  # now right, but this client waits
    assert locked.status_code == 429
    assert "Retry-After" in locked.headers
    assert not signed_in(actions.client)
    assert events(app, "lockout")


def test_relying_party_must_match_the_origin(database_url: str) -> None:
    with pytest.raises(ValueError, match="WEBAUTHN_RP_ID"):
        passkey_app(database_url, WEBAUTHN_RP_ID="other.example")
    with pytest.raises(ValueError, match="IP address"):
        passkey_app(database_url, PUBLIC_URL="http://127.0.0.1:5000", WEBAUTHN_RP_ID="10.0.0.1")
    # A parent domain is a valid RP id for a subdomain origin.
    passkey_app(database_url, PUBLIC_URL="https://login.example.com",
                WEBAUTHN_RP_ID="example.com")


def test_no_passkeys_on_an_ip_address(database_url: str) -> None:
    """An RP id cannot be an IP address: the gateway works as before, without passkeys."""
    from tests.support.console import make_gateway_app

    app = make_gateway_app(database_url)  # PUBLIC_URL http://127.0.0.1:5000
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in with a passkey" not in page
    from tests.support.csrf import csrf_token

    response = client.post("/passkeys/options/login",
                           headers={"X-CSRFToken": csrf_token(client, "/login")})
    assert response.status_code == 404


def test_options_need_the_csrf_token(actions: Actions) -> None:
    assert actions.client.post("/passkeys/options/login").status_code == 400
