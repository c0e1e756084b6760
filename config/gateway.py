"""Gateway settings: one typed dataclass (every variable, its type, default and range), loaded
from the environment and checked at start, plus the products file.

docs/operations.md "Configuration" lists the same variables in one table; ``tests/test_settings.py``
compares the two. Test-only switches are not settings: see :class:`GatewayTestSwitches`.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from config import (
    DEMO_MARKER,
    ENVIRONMENTS,
    ConfigError,
    http_url,
    load,
    networks,
    products_file,
    refuse_demo_secret,
    refuse_demo_secrets,
    setting,
)

#: Positive whole numbers (counts, sizes, seconds that cannot be zero).
POSITIVE = {"min": 1}


_ADDRESS = re.compile(r"[^@\s<>\"'()\[\],;:\\]+@[^@\s<>\"'()\[\],;:\\]+\.[A-Za-z0-9-]+")


def support_url(url: str) -> None:
    """``check`` of ``SUPPORT_URL``: empty, or an http(s) URL a browser can follow."""
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or not url.isprintable():
        raise ValueError("must be an http(s) URL with a host")
    if any(c.isspace() or c in "<>\"'" for c in url):
        raise ValueError("must not contain spaces or quotes")


def support_email(email: str) -> None:
    """``check`` of ``SUPPORT_EMAIL``: empty, or one address."""
    if email and (len(email) > 254 or not _ADDRESS.fullmatch(email)):
        raise ValueError("must be one email address, like help@example.com")


def dns_resolver(value: str) -> None:
    """``check`` of ``DNS_RESOLVER``: empty, or ``address[:port]`` (``[v6]:port``)."""
    if value:
        resolver_address(value)


def resolver_address(value: str) -> tuple[str, int]:
    """The (IP address, port) ``DNS_RESOLVER`` names; port 53 unless given."""
    host, port = value, "53"
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                raise ValueError("must be address[:port], like 127.0.0.1:53 or [::1]:53")
            port = rest[1:]
    elif value.count(":") == 1:
        host, port = value.split(":")
    if not port.isdigit() or not 1 <= int(port) <= 65535:
        raise ValueError("the port must be a number from 1 to 65535")
    return str(ipaddress.ip_address(host)), int(port)


@dataclass(frozen=True)
class GatewaySettings:
    """Every gateway setting. Field names are the Flask config keys; the environment variable
    is the same name unless ``env`` says otherwise."""

    # Production unless told otherwise: demo secrets are refused, no developer mailbox.
    APP_ENV: str = setting("production", choices=ENVIRONMENTS)
    SECRET_KEY: str = setting(DEMO_MARKER + "gateway-secret-key", secret=True)
    DATABASE_URL: str = setting("sqlite:///instance/gateway.db")
    # Public base URL of the gateway, used in links sent by mail and as the assertion's `iss`
    # (products started from the same environment take it as their GATEWAY_PUBLIC_URL).
    PUBLIC_URL: str = setting("http://127.0.0.1:5000", check=http_url)
    # Passkeys (WebAuthn): relying-party id and origin. Empty: derived from PUBLIC_URL (its host,
    # and scheme://host[:port]). The RP id must be a domain (not an IP address) equal to the
    # origin's host or a parent of it: the gateway refuses to start when they do not match, and
    # offers no passkeys when the public URL's host is an IP address. Seconds a challenge stays
    # usable (once, by the browser session that asked for it).
    WEBAUTHN_RP_ID: str = setting("")
    WEBAUTHN_ORIGIN: str = setting("")
    WEBAUTHN_CHALLENGE_SECONDS: int = setting(120, min=10, max=600)
    # Mail is written to the outbox with the change it announces and delivered after commit:
    # over SMTP when SMTP_HOST is set (production refuses to start without it), otherwise kept
    # for the developer mailbox page (a week, then purged). A sent or given-up mail
    # keeps no body (its links) in the outbox. A failed
    # send is retried after MAIL_RETRY_SECONDS, doubling each time (at most an hour), and
    # given up after MAIL_MAX_ATTEMPTS attempts (status "failed", logged).
    SMTP_HOST: str = setting("")
    SMTP_PORT: int = setting(25, min=1, max=65535)
    SMTP_USERNAME: str = setting("")
    SMTP_PASSWORD: str = setting("")
    SMTP_STARTTLS: bool = setting(False)
    MAIL_FROM: str = setting("Unified Login <no-reply@unified-login.local>")
    MAIL_RETRY_SECONDS: int = setting(30, **POSITIVE)
    MAIL_MAX_ATTEMPTS: int = setting(12, **POSITIVE)
    # Where people who cannot get in are sent (gateway/web/support.py): a help page (URL
    # first when both are set) or an address. Production refuses to start with neither.
    SUPPORT_URL: str = setting("", check=support_url)
    SUPPORT_EMAIL: str = setting("", check=support_email)
    # Cookies.
    SESSION_COOKIE_SECURE: bool = setting(False, env="COOKIE_SECURE")
    SESSION_COOKIE_NAME: str = setting("gw_session")
    # Seconds of inactivity after which a server-side session expires.
    SESSION_IDLE_TIMEOUT: int = setting(8 * 3600, min=60)
    # Absolute lifetime of a session whatever the activity.
    SESSION_MAX_AGE: int = setting(7 * 24 * 3600, min=60)
    # Seconds a session check may be cached per process (bounds how late a revocation bites).
    SESSION_CACHE_SECONDS: int = setting(2, min=0, max=60)
    # Freshness window for sensitive changes (password, 2FA, email).
    REAUTH_WINDOW_SECONDS: int = setting(300, **POSITIVE)
    # Email verification and email-change links.
    EMAIL_TOKEN_MAX_AGE: int = setting(24 * 3600, **POSITIVE)
    # An email change untouched this long while applying is rolled back by the repair.
    EMAIL_CHANGE_STALE_SECONDS: int = setting(60, **POSITIVE)
    # Seconds between two rounds of each serving process's background work (the email-change
    # repair, and mail delivery, which also runs right after a commit that queued mail).
    BACKGROUND_INTERVAL_SECONDS: int = setting(10, **POSITIVE)
    # Login throttling.
    LOGIN_MAX_FAILURES: int = setting(10, **POSITIVE)
    LOGIN_LOCKOUT_SECONDS: int = setting(900, **POSITIVE)
    IP_MAX_ATTEMPTS: int = setting(30, **POSITIVE)
    IP_WINDOW_SECONDS: int = setting(300, **POSITIVE)
    # Sign-ups and "resend the link" requests per client address and window (each mails
    # someone who may not have asked).
    SIGNUP_MAX_PER_IP: int = setting(20, **POSITIVE)
    SIGNUP_WINDOW_SECONDS: int = setting(3600, **POSITIVE)
    # Password reset: lifetime of the mailed link (seconds), and reset requests per address and
    # hour that send a mail (more are answered the same way and send nothing; the per-client
    # limit is SIGNUP_MAX_PER_IP).
    PASSWORD_RESET_MAX_AGE: int = setting(3600, **POSITIVE)
    RESET_MAX_PER_ADDRESS: int = setting(3, **POSITIVE)
    # Email-change requests per account and hour: each answer says whether an address is
    # taken, so a signed-in account must not test address after address.
    EMAIL_CHANGE_MAX_PER_HOUR: int = setting(5, **POSITIVE)
    # "Remember this device": how long a remembered browser skips the second factor, and the
    # browser cookie naming the devices a person signed in from (new-sign-in notice), with its
    # lifetime (it outlives the 30 days: a device seen before gets no notice).
    REMEMBER_DEVICE_SECONDS: int = setting(30 * 24 * 3600, **POSITIVE)
    DEVICE_COOKIE_NAME: str = setting("gw_device")
    DEVICE_COOKIE_MAX_AGE: int = setting(365 * 24 * 3600, **POSITIVE)
    # Mails per recipient and hour, whatever sent them (notices about the recipient's own
    # account excepted; see gateway/identity/mail.py).
    MAIL_PER_HOUR: int = setting(5, **POSITIVE)
    # Networks allowed to read /metrics (Prometheus scrapes over loopback or a private net).
    METRICS_ALLOW: tuple[str, ...] = setting(["127.0.0.1/32", "::1/128"], check=networks)
    # Networks whose clients (the address after the trusted proxies) may reach the operator
    # console under /admin/ (everyone else gets 404); default: anywhere.
    ADMIN_ALLOW: tuple[str, ...] = setting(["0.0.0.0/0", "::/0"], check=networks)
    # Days the audit log keeps a row (older ones are removed by each process's background
    # round and by `flask audit prune`); 0 keeps every row for ever.
    AUDIT_RETENTION_DAYS: int = setting(365, min=0)
    # Token requests to the admin API's POST /oauth/token per client address and minute.
    OAUTH_TOKEN_MAX_PER_MINUTE: int = setting(30, **POSITIVE)
    # Request limits.
    MAX_FORM_MEMORY_SIZE: int = setting(64 * 1024, min=1024)
    # Number of trusted reverse proxies in front of the gateway (X-Forwarded-* honoured from them).
    TRUSTED_PROXY_HOPS: int = setting(0, min=0, max=10)
    # Addresses (networks) of the edge proxies allowed to ask the forward-auth endpoints
    # (/auth/nginx, /auth/forward, /auth/envoy/...); empty: those endpoints answer 403 to all.
    # Behind an edge on the same host: 127.0.0.1/32,::1/128 (`python app.py --edge` sets it).
    FORWARD_AUTH_ALLOW: tuple[str, ...] = setting([], check=networks)
    # One access-log line per *allowed* answer of /auth/nginx and /auth/forward (the edge asks
    # before every product request, and its own access log already has each one): off by
    # default, as Authelia logs them only at debug level. Refusals and sign-ins are always
    # logged; every answer is counted in /metrics (area "forward_auth").
    FORWARD_AUTH_LOG_ALLOWED: bool = setting(False)
    # The products behind the gateway: a TOML file of [[products]] entries (config/products_file.py;
    # docs/operations.md, "Products file"). <NAME>_UPSTREAM overrides an entry's upstream,
    # and each linked product's SCIM token comes from the variable its entry names (scim_token_env).
    PRODUCTS_FILE: str = setting(products_file.DEFAULT_FILE)
    # Folder of the ES256 signing keys (PEM, 0600) and their rotation state (`flask keys`).
    # Every gateway instance must see the same folder. Outside production a demo key is
    # created there when it is empty; production refuses a demo key and an empty folder.
    ASSERTION_KEY_DIR: str = setting("instance/keys")
    # Lifetime of an identity assertion (`exp - iat`), in seconds.
    ASSERTION_MAX_AGE: int = setting(30, min=1, max=60)
    # Cache-Control max-age of /.well-known/jwks.json: how long products may cache the keys
    # (so also how long a staged key must be published before `flask keys promote`).
    JWKS_MAX_AGE: int = setting(300, min=0)
    # Upstream timeouts (connect, read) in seconds.
    UPSTREAM_CONNECT_TIMEOUT: int = setting(3, **POSITIVE)
    UPSTREAM_READ_TIMEOUT: int = setting(30, **POSITIVE)
    # Read timeout of the gateway's own calls to products (linking, SCIM), in seconds.
    PRODUCT_API_TIMEOUT: int = setting(10, **POSITIVE)
    # Every request body, Console form or proxied (gateway.web.bodies): seconds a client may
    # take to send a body of up to REQUEST_BODY_BUFFER bytes (read whole before the app runs),
    # and the longest a larger (streamed) one may fall behind REQUEST_BODY_MIN_RATE bytes a
    # second (408 beyond); bodies received at once per process, and of them per client
    # address (503 with Retry-After beyond; at most half of them streamed).
    REQUEST_BODY_TIMEOUT: int = setting(10, **POSITIVE)
    REQUEST_BODY_BUFFER: int = setting(256 * 1024, min=1024)
    REQUEST_BODY_CONCURRENCY: int = setting(8, **POSITIVE)
    REQUEST_BODY_PER_CLIENT: int = setting(2, **POSITIVE)
    REQUEST_BODY_MIN_RATE: int = setting(8192, min=1)
    # The DNS server asked for organizations' domain verification TXT records
    # (gateway/organizations/dns_txt.py): address[:port], or empty for the system's resolvers.
    DNS_RESOLVER: str = setting("", check=dns_resolver)


@dataclass(frozen=True)
class GatewayTestSwitches:
    """Switches only test fixtures set, as an explicit argument of ``create_app`` (never read
    from the environment, refused outside ``APP_ENV=test``): cheap argon2 parameters, and no
    background thread (in-process tests run the jobs themselves)."""

    fast_password_hashing: bool = False
    background_work: bool = True
    #: Single sign-on with identity providers on plain ``http`` (the tests' run on loopback).
    plain_http_identity_providers: bool = False


#: What production runs with: no switch thrown.
PRODUCTION = GatewayTestSwitches()

#: Where ``create_app`` keeps the switches (``app.extensions``).
SWITCHES_KEY = "gateway.test_switches"


def test_switches(app: Any) -> GatewayTestSwitches:
    """The switches ``app`` was built with (:data:`PRODUCTION` unless a test said otherwise)."""
    switches: GatewayTestSwitches = app.extensions.get(SWITCHES_KEY, PRODUCTION)
    return switches


def check_switches(switches: GatewayTestSwitches, app_env: str) -> None:
    """Test switches exist for test fixtures only: any thrown outside ``APP_ENV=test`` stops
    the start."""
    if switches != PRODUCTION and app_env != "test":
        raise ConfigError(f"test switches {switches} given with APP_ENV={app_env}, not test")

#: Test-mapping keys that were settings once and are switches now: refused with a pointer.
RETIRED_TEST_KEYS = ("PASSWORD_HASH_FAST", "BACKGROUND_WORK")

#: Where the checked product entries are kept in the Flask config (built from PRODUCTS_FILE).
PRODUCT_SPECS = "PRODUCT_SPECS"


@dataclass(frozen=True)
class GatewayConfig:
    """The settings, the checked products file, and each linked product's SCIM token (keyed by
    the variable its entry names)."""

    settings: GatewaySettings
    products: tuple[products_file.ProductSpec, ...]
    scim_tokens: Mapping[str, str]
    #: Keys of the test mapping that are not settings (Flask's own: ``WTF_CSRF_ENABLED``...).
    flask_extras: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def flask_config(self) -> dict[str, Any]:
        """What ``app.config`` is filled with: every setting under its own name."""
        return (
            dict(self.flask_extras)
            | dataclasses.asdict(self.settings)
            | dict(self.scim_tokens)
            | {PRODUCT_SPECS: self.products}
        )


def load_settings(
    test_config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> GatewayConfig:
    """Typed settings plus the products file, checked: a bad value, a bad entry, an unset or
    demo secret in production, no support route or no SMTP server in production, or the retired
    ``PRODUCTS`` list stops the start."""
    environ = os.environ if environ is None else environ
    given = dict(test_config or {})
    if "PRODUCTS" in environ or "PRODUCTS" in given:
        raise ConfigError(
            "PRODUCTS is no longer read: list the products in PRODUCTS_FILE "
            f"(TOML [[products]] entries; default {products_file.DEFAULT_FILE})"
        )
    retired = [key for key in RETIRED_TEST_KEYS if key in given]
    if retired:
        raise ConfigError(
            f"{', '.join(retired)}: test-only switches, not settings; pass "
            "create_app(switches=GatewayTestSwitches(...))"
        )
    settings = load(GatewaySettings, given, environ)
    refuse_demo_secrets(settings, settings.APP_ENV)
    specs = products_file.load(settings.PRODUCTS_FILE)
    dynamic: set[str] = set()
    tokens: dict[str, str] = {}
    resolved = []
    for spec in specs:
        variable = spec.upstream_env()
        dynamic.add(variable)
        upstream = given.get(variable, environ.get(variable))
        if upstream:
            spec = products_file.with_upstream(spec, str(upstream), variable)
        if spec.linked is not None:
            token = spec.linked.scim_token_env
            dynamic.add(token)
            demo = f"{DEMO_MARKER}{spec.name}-scim-token"
            tokens[token] = str(given.get(token, environ.get(token, demo)))
            refuse_demo_secret(settings.APP_ENV, token, tokens[token])
        resolved.append(spec)
    names = {item.name for item in dataclasses.fields(GatewaySettings)}
    extras = {key: value for key, value in given.items() if key not in names | dynamic}
    if settings.APP_ENV == "production" and not (settings.SUPPORT_URL or settings.SUPPORT_EMAIL):
        raise ConfigError(
            "SUPPORT_URL or SUPPORT_EMAIL must be set in production: people who lose their "
            "second factor are sent there"
        )
    if settings.APP_ENV == "production" and not settings.SMTP_HOST:
        raise ConfigError(
            "SMTP_HOST must be set in production: without it mail (reset and verification "
            "links) would only be kept in the outbox, never sent"
        )
    return GatewayConfig(settings, tuple(resolved), tokens, extras)
