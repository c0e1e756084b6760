"""Identity advisories: session cookies, client addresses, email canonicalisation, replay.

- CWE-565 / CWE-384 / CWE-613: a malformed, truncated, foreign, chosen or revoked session cookie
  is a login redirect (or a 401 for API clients) and never an identity.
- CWE-348 (use of less trusted source): an unparsable ``X-Forwarded-For`` never breaks a page,
  never becomes a throttle key, and with ``TRUSTED_PROXY_HOPS=0`` is not read at all.
- CWE-178 / CWE-1007 / CWE-158: email tricks are canonicalised before lookup and before
  throttling, or refused; never a second account that looks the same.
- CWE-294 (authentication bypass by capture-replay): TOTP codes, recovery codes, assertions.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
import time
from collections.abc import Callable
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy import func, select

from gateway.assertion import AssertionVerifier, InvalidAssertion, StaticJwks
from gateway.db import new_session
from gateway.models import LoginSession, ThrottleBucket, User, utcnow
from tests.support.console import PASSWORD, Actions, current_code, make_gateway_app
from tests.support.corpora import FORWARDED_FOR
from tests.support.csrf import csrf_token
from tests.support.keys import shared_store
from tests.support.proxy_gateway import echoed, sign_in

# --- session cookies --------------------------------------------------------------------------


def _signed(app: Flask, data: dict[str, Any], secret: str | None = None) -> str:
    if secret is not None:
        app = Flask("foreign")
        app.secret_key = secret
    serializer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert serializer is not None
    return str(serializer.dumps(data))


def _valid_cookie(app: Flask) -> str:
    return _signed(app, {"sid": sign_in(app, app.test_client(), email="victim@example.com").token})


def _revoked_cookie(app: Flask) -> str:
    person = sign_in(app, app.test_client(), email="revoked@example.com")
    with app.app_context(), new_session() as db:
        record = db.get(LoginSession, hashlib.sha256(person.token.encode()).hexdigest())
        assert record is not None
        record.revoked_at = utcnow()
        db.commit()
    return _signed(app, {"sid": person.token})


def _expired_cookie(app: Flask) -> str:
    person = sign_in(app, app.test_client(), email="expired@example.com")
    with app.app_context(), new_session() as db:
        record = db.get(LoginSession, hashlib.sha256(person.token.encode()).hexdigest())
        assert record is not None
        record.created_at = record.last_seen_at = utcnow().replace(year=2000)
        db.commit()
    return _signed(app, {"sid": person.token})


COOKIES: list[tuple[str, Callable[[Flask], str]]] = [
    ("CWE-565-garbage", lambda app: "garbage"),
    ("CWE-565-empty", lambda app: ""),
    ("CWE-565-huge", lambda app: "A" * 4000),
    ("CWE-565-truncated", lambda app: _valid_cookie(app)[:-12]),
    ("CWE-565-truncated-signature", lambda app: _valid_cookie(app).rsplit(".", 1)[0]),
    ("CWE-565-tampered", lambda app: "x" + _valid_cookie(app)[1:]),
    ("CWE-565-foreign-secret", lambda app: _signed(app, {"sid": "a" * 43}, "another-app-secret")),
    ("CWE-565-product-cookie", lambda app: _signed(app, {"sid": "a" * 43}, "segment-secret")),
    ("CWE-565-unsigned", lambda app: "eyJzaWQiOiJhYWFhYWFhYWFhYWFhYWFhYWFhYWFhIn0"),
    ("CWE-565-sid-integer", lambda app: _signed(app, {"sid": 12345678901234567890123})),
    ("CWE-565-sid-list", lambda app: _signed(app, {"sid": ["a" * 43]})),
    ("CWE-565-sid-object", lambda app: _signed(app, {"sid": {"$ne": None}})),
    ("CWE-565-sid-huge", lambda app: _signed(app, {"sid": "a" * 100_000})),
    ("CWE-565-sid-nul", lambda app: _signed(app, {"sid": "\x00" * 43})),
    ("CWE-565-user-id-instead", lambda app: _signed(app, {"_user_id": "1", "uid": "1"})),
    ("CWE-384-attacker-chosen-sid", lambda app: _signed(app, {"sid": secrets.token_urlsafe(32)})),
    ("CWE-613-revoked", _revoked_cookie),
    ("CWE-613-expired", _expired_cookie),
]


@pytest.mark.parametrize("make_cookie", [c for _, c in COOKIES], ids=[i for i, _ in COOKIES])
def test_bad_session_cookies_never_give_an_identity(
    gateway: Flask, make_cookie: Callable[[Flask], str]
) -> None:
    value = make_cookie(gateway)
    client = gateway.test_client()
    client.set_cookie(gateway.config["SESSION_COOKIE_NAME"], value)
    for path in ("/", "/settings", "/upgrade", "/link/segment"):
        response = client.get(path)
        assert response.status_code == 302, (path, response.status_code)
        assert response.headers["Location"].startswith("/login")
    page = client.get("/segment/x", headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.headers["Location"].startswith("/login?")
    api = client.get("/segment/x", headers={"Accept": "application/json"})
    assert api.status_code == 401 and api.headers.get("X-Upstream") is None


# --- X-Forwarded-For ----------------------------------------------------------------------------


@pytest.mark.parametrize("hops", [0, 1], ids=["hops-0", "hops-1"])
@pytest.mark.parametrize("value", [v for _, v in FORWARDED_FOR], ids=[i for i, _ in FORWARDED_FOR])
def test_unparsable_forwarded_for(database_url: str, hops: int, value: str) -> None:
    app = make_gateway_app(database_url, TRUSTED_PROXY_HOPS=hops)
    actions = Actions(app, app.test_client())
    actions.create_user()
    headers = {"X-Forwarded-For": value}
    assert actions.client.get("/healthz", headers=headers).status_code == 200
    page = actions.client.get("/login", headers=headers)
    assert page.status_code == 200
    failed = actions.client.post("/login", headers=headers, data={
        "csrf_token": csrf_token(actions.client, "/login"), "email": "user@example.com",
        "password": "wrong password 123"})
    assert failed.status_code == 401
    signed = actions.post("/login", form_path="/login", email="user@example.com",
                          password=PASSWORD)
    assert signed.status_code == 302
    with app.app_context(), new_session() as db:
        keys = list(db.scalars(select(ThrottleBucket.key).where(ThrottleBucket.key.like("ip:%"))))
        addresses = list(db.scalars(select(LoginSession.ip_address)))
    for address in [k.removeprefix("ip:") for k in keys] + addresses:
        ipaddress.ip_address(address)  # always a real address, never the raw header
    if hops == 0:
        assert keys == ["ip:127.0.0.1"]


# --- email canonicalisation -------------------------------------------------------------------

SAME_ACCOUNT = [
    ("CWE-178-upper-case", "USER@EXAMPLE.COM"),
    ("CWE-178-mixed-case", "User@Example.Com"),
    ("CWE-20-surrounding-whitespace", "  user@example.com \t"),
    ("CWE-1007-fullwidth", "ｕｓｅｒ＠ｅｘａｍｐｌｅ．ｃｏｍ"),
    ("CWE-1007-fullwidth-upper", "ＵＳＥＲ@example.com"),
]
NOT_AN_ACCOUNT = [
    ("CWE-1007-cyrillic-lookalike", "usеr@example.com"),
    ("CWE-1007-zero-width", "us\u200ber@example.com"),
    ("CWE-1007-combining-mark", "use\u0301r@example.com"),
    ("CWE-20-double-at", "user@@example.com"),
    ("CWE-20-several-at", "user@evil.test@example.com"),
    ("CWE-20-trailing-at", "user@example.com@evil.test"),
    ("CWE-158-nul", "user@example.com\x00"),
    ("CWE-158-embedded-nul", "user\x00@example.com"),
    ("CWE-20-quoted-local", '"user"@example.com'),
    ("CWE-20-comment", "user(comment)@example.com"),
]


@pytest.fixture
def locking_app(database_url: str) -> Flask:
    return make_gateway_app(database_url, LOGIN_MAX_FAILURES=3)


@pytest.mark.parametrize("variant", [v for _, v in SAME_ACCOUNT], ids=[i for i, _ in SAME_ACCOUNT])
def test_email_variants_reach_the_same_account_and_its_throttle(
    locking_app: Flask, variant: str
) -> None:
    actions = Actions(locking_app, locking_app.test_client())
    actions.create_user()
    assert actions.sign_in(variant).status_code == 302  # canonicalised before lookup
    signup = actions.post("/signup", email=variant, password="a brand new long password")
    assert signup.status_code == 200
    other = Actions(locking_app, locking_app.test_client())
    for _ in range(3):
        assert other.sign_in(variant, password="wrong password 123").status_code == 401
    assert other.sign_in("user@example.com").status_code == 429  # canonicalised before throttling
    with locking_app.app_context(), new_session() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1


@pytest.mark.parametrize(
    "variant", [v for _, v in NOT_AN_ACCOUNT], ids=[i for i, _ in NOT_AN_ACCOUNT]
)
def test_email_lookalikes_are_refused_and_never_lock_the_real_account(
    locking_app: Flask, variant: str
) -> None:
    actions = Actions(locking_app, locking_app.test_client())
    actions.create_user()
    response = actions.sign_in(variant)
    assert response.status_code in (400, 401)
    assert "Incorrect email or password." in response.get_data(as_text=True) or (
        response.status_code == 400)
    for _ in range(3):
        actions.sign_in(variant, password="wrong password 123")
    signup = actions.post("/signup", email=variant, password="a brand new long password")
    assert signup.status_code == 400
    assert Actions(locking_app, locking_app.test_client()).sign_in().status_code == 302
    with locking_app.app_context(), new_session() as db:
        assert db.scalar(select(func.count()).select_from(User)) == 1


# --- replay -------------------------------------------------------------------------------------


def _totp_user(actions: Actions) -> str:
    user = actions.create_user(totp=True)
    return user.totp_secret or ""


def _replay_login(actions: Actions) -> None:
    secret = _totp_user(actions)
    code = current_code(secret)
    assert actions.sign_in().status_code == 302
    assert actions.enter_code(code).status_code == 302
    assert actions.sign_out().status_code == 302
    assert actions.sign_in().status_code == 302
    assert actions.enter_code(code).status_code == 401


def _replay_on_reauth(actions: Actions) -> None:
    secret = _totp_user(actions)
    code = current_code(secret)
    actions.sign_in()
    assert actions.enter_code(code).status_code == 302
    assert actions.reauthenticate(code=code).status_code == 401


def _older_step(actions: Actions) -> None:
    secret = _totp_user(actions)
    totp = pyotp.TOTP(secret)
    actions.sign_in()
    assert actions.enter_code(totp.now()).status_code == 302
    actions.sign_out()
    actions.sign_in()
    assert actions.enter_code(totp.at(time.time() - 30)).status_code == 401


def _recovery_reuse(actions: Actions) -> None:
    from gateway.identity.totp import new_recovery_codes

    _totp_user(actions)
    with actions.app.app_context(), new_session() as db:
        user = db.scalars(select(User)).one()
        code = new_recovery_codes(user)[0]
        db.commit()
    actions.sign_in()
    assert actions.enter_code(code).status_code == 302
    actions.sign_out()
    actions.sign_in()
    assert actions.enter_code(code).status_code == 401


def _other_user_code(actions: Actions) -> None:
    _totp_user(actions)
    code = current_code(pyotp.random_base32())  # a valid code, for someone else's key
    actions.sign_in()
    assert actions.enter_code(code).status_code == 401


TOTP_REPLAYS = [
    ("CWE-294-totp-login-replay", _replay_login),
    ("CWE-294-totp-replay-on-reauthenticate", _replay_on_reauth),
    ("CWE-294-totp-older-step", _older_step),
    ("CWE-294-recovery-code-reuse", _recovery_reuse),
    ("CWE-294-totp-other-key", _other_user_code),
]


@pytest.mark.parametrize("scenario", [s for _, s in TOTP_REPLAYS], ids=[i for i, _ in TOTP_REPLAYS])
def test_second_factor_replay(actions: Actions, scenario: Callable[[Actions], None]) -> None:
    scenario(actions)


def _captured(gateway: Flask) -> str:
    person = sign_in(gateway, gateway.test_client())
    echo = echoed(person.client.get("/segment/a"))
    return str(dict(echo["headers"])["X-Identity-Assertion"])


ASSERTION_REPLAYS = [
    ("CWE-294-assertion-other-path", "segment", "GET", "/b"),
    ("CWE-294-assertion-other-path-prefix", "segment", "GET", "/a/../scim/v2/Users"),
    ("CWE-294-assertion-other-method", "segment", "POST", "/a"),
    ("CWE-294-assertion-other-product-audience", "sendgrid", "GET", "/a"),
]


def _product_verifier(product: str) -> AssertionVerifier:
    return AssertionVerifier(product, "http://127.0.0.1:5000", StaticJwks(shared_store().jwks()))


@pytest.mark.parametrize(
    ("product", "method", "path"),
    [c[1:] for c in ASSERTION_REPLAYS],
    ids=[c[0] for c in ASSERTION_REPLAYS],
)
def test_assertion_replayed_elsewhere_is_refused(
    gateway: Flask, product: str, method: str, path: str
) -> None:
    token = _captured(gateway)
    with pytest.raises(InvalidAssertion):
        _product_verifier(product).verify(token, method=method, path=path)


def test_assertion_replayed_twice_is_refused(gateway: Flask) -> None:
    """CWE-294-assertion-same-path-twice."""
    token = _captured(gateway)
    verifier = _product_verifier("segment")
    verifier.verify(token, method="GET", path="/a")
    with pytest.raises(InvalidAssertion, match="replayed"):
        verifier.verify(token, method="GET", path="/a")


@pytest.mark.parametrize("target", ["/segment/b", "/sendgrid/a", "/segment/login"],
                         ids=["CWE-294-via-client-other-path", "CWE-294-via-client-other-product",
                              "CWE-294-via-client-public-path"])
def test_assertion_replayed_by_a_client_is_stripped(gateway: Flask, target: str) -> None:
    token = _captured(gateway)
    anonymous = gateway.test_client().get(target, headers={"X-Identity-Assertion": token,
                                                           "Accept": "application/json"})
    if target == "/segment/login":
        assert echoed(anonymous)["identity"] == {"error": "missing assertion"}
    else:
        assert anonymous.status_code == 401 and anonymous.headers.get("X-Upstream") is None
