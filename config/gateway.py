"""Gateway settings: defaults and the environment variables that override them."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from config import DEMO_MARKER, ConfigError, load, products_file, refuse_demo_secrets

DEFAULTS: dict[str, Any] = {
    # Production unless told otherwise: demo secrets are refused, no developer mailbox.
    "APP_ENV": "production",
    "SECRET_KEY": DEMO_MARKER + "gateway-secret-key",
    "DATABASE_URL": "sqlite:///instance/gateway.db",
    # Public base URL of the gateway, used in links sent by mail and as the assertion's `iss`.
    "PUBLIC_URL": "http://127.0.0.1:5000",
    # Passkeys (WebAuthn): relying-party id and origin. Empty: derived from PUBLIC_URL (its host,
    # and scheme://host[:port]). The RP id must be a domain (not an IP address) equal to the
    # origin's host or a parent of it: the gateway refuses to start when they do not match, and
    # offers no passkeys when the public URL's host is an IP address. Seconds a challenge stays
    # usable (once, by the browser session that asked for it).
    "WEBAUTHN_RP_ID": "",
    "WEBAUTHN_ORIGIN": "",
    "WEBAUTHN_CHALLENGE_SECONDS": 120,
    # Mail is written to the outbox with the change it announces and delivered after commit:
    # over SMTP when SMTP_HOST is set, otherwise kept for the developer mailbox page. A failed
    # send is retried after MAIL_RETRY_SECONDS, doubling each time (at most an hour), and
    # given up after MAIL_MAX_ATTEMPTS attempts (status "failed", logged).
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": False,
    "MAIL_FROM": "Unified Login <no-reply@unified-login.local>",
    "MAIL_RETRY_SECONDS": 30,
    "MAIL_MAX_ATTEMPTS": 12,
    # Where people who cannot get in are sent (gateway/web/support.py): a help page (URL
    # first when both are set) or an address. Production refuses to start with neither.
    "SUPPORT_URL": "",
    "SUPPORT_EMAIL": "",
    # Cookies.
    "SESSION_COOKIE_SECURE": False,
    "SESSION_COOKIE_NAME": "gw_session",
    # Seconds of inactivity after which a server-side session expires.
    "SESSION_IDLE_TIMEOUT": 8 * 3600,
    # Absolute lifetime of a session whatever the activity.
    "SESSION_MAX_AGE": 7 * 24 * 3600,
    # Seconds a session check may be cached per process (bounds how late a revocation bites).
    "SESSION_CACHE_SECONDS": 2,
    # Freshness window for sensitive changes (password, 2FA, email).
    "REAUTH_WINDOW_SECONDS": 300,
    # Email verification and email-change links.
    "EMAIL_TOKEN_MAX_AGE": 24 * 3600,
    # An email change untouched this long while applying is rolled back by the repair.
    "EMAIL_CHANGE_STALE_SECONDS": 60,
    # Seconds between two rounds of each serving process's background work (the email-change
    # repair, and mail delivery, which also runs right after a commit that queued mail).
    "BACKGROUND_INTERVAL_SECONDS": 10,
    # Login throttling.
    "LOGIN_MAX_FAILURES": 10,
    "LOGIN_LOCKOUT_SECONDS": 900,
    "IP_MAX_ATTEMPTS": 30,
    "IP_WINDOW_SECONDS": 300,
    # Sign-ups and "resend the link" requests per client address and window (each mails
    # someone who may not have asked).
    "SIGNUP_MAX_PER_IP": 20,
    "SIGNUP_WINDOW_SECONDS": 3600,
    # Password reset: lifetime of the mailed link (seconds), and reset requests per address and
    # hour that send a mail (more are answered the same way and send nothing; the per-client
    # limit is SIGNUP_MAX_PER_IP).
    "PASSWORD_RESET_MAX_AGE": 3600,
    "RESET_MAX_PER_ADDRESS": 3,
    # Email-change requests per account and hour: each answer says whether an address is
    # taken, so a signed-in account must not test address after address.
    "EMAIL_CHANGE_MAX_PER_HOUR": 5,
    # "Remember this device": how long a remembered browser skips the second factor, and the
    # browser cookie naming the devices a person signed in from (new-sign-in notice), with its
    # lifetime (it outlives the 30 days: a device seen before gets no notice).
    "REMEMBER_DEVICE_SECONDS": 30 * 24 * 3600,
    "DEVICE_COOKIE_NAME": "gw_device",
    "DEVICE_COOKIE_MAX_AGE": 365 * 24 * 3600,
    # Mails per recipient and hour, whatever sent them (notices about the recipient's own
    # account excepted; see gateway/identity/mail.py).
    "MAIL_PER_HOUR": 5,
    # Cheap argon2 parameters for test suites; honoured only when APP_ENV == "test".
    "PASSWORD_HASH_FAST": False,
    # Networks allowed to read /metrics (Prometheus scrapes over loopback or a private net).
    "METRICS_ALLOW": ["127.0.0.1/32", "::1/128"],
    # Request limits.
    "MAX_FORM_MEMORY_SIZE": 64 * 1024,
    # Number of trusted reverse proxies in front of the gateway (X-Forwarded-* honoured from them).
    "TRUSTED_PROXY_HOPS": 0,
    # Addresses (networks) of the edge proxies allowed to ask the forward-auth endpoints
    # (/auth/nginx, /auth/forward, /auth/envoy/...); empty: those endpoints answer 403 to all.
    # Behind an edge on the same host: 127.0.0.1/32,::1/128 (`python app.py --edge` sets it).
    "FORWARD_AUTH_ALLOW": [],
    # One access-log line per *allowed* answer of /auth/nginx and /auth/forward (the edge asks
    # before every product request, and its own access log already has each one): off by
    # default, as Authelia logs them only at debug level. Refusals and sign-ins are always
    # logged; every answer is counted in /metrics (area "forward_auth").
    "FORWARD_AUTH_LOG_ALLOWED": False,
    # The products behind the gateway: a TOML file of [[products]] entries (config/products_file.py;
    # README, "Products file"). <NAME>_UPSTREAM overrides an entry's upstream, and each linked
    # product's SCIM token comes from the variable its entry names (scim_token_env).
    "PRODUCTS_FILE": products_file.DEFAULT_FILE,
    # Folder of the ES256 signing keys (PEM, 0600) and their rotation state (`flask keys`).
    # Every gateway instance must see the same folder. Outside production a demo key is
    # created there when it is empty; production refuses a demo key and an empty folder.
    "ASSERTION_KEY_DIR": "instance/keys",
    # Lifetime of an identity assertion (`exp - iat`), in seconds; at most 60.
    "ASSERTION_MAX_AGE": 30,
    # Cache-Control max-age of /.well-known/jwks.json: how long products may cache the keys
    # (so also how long a staged key must be published before `flask keys promote`).
    "JWKS_MAX_AGE": 300,
    # Upstream timeouts (connect, read) in seconds.
    "UPSTREAM_CONNECT_TIMEOUT": 3,
    "UPSTREAM_READ_TIMEOUT": 30,
    # Read timeout of the gateway's own calls to products (linking, SCIM), in seconds.
    "PRODUCT_API_TIMEOUT": 10,
    # Every request body, Console form or proxied (gateway.web.bodies): seconds a client may
    # take to send a body of up to REQUEST_BODY_BUFFER bytes (read whole before the app runs),
    # and the longest wait for any read of a larger one (408 beyond); bodies received at once
    # per process (503 with Retry-After beyond).
    "REQUEST_BODY_TIMEOUT": 10,
    "REQUEST_BODY_BUFFER": 256 * 1024,
    "REQUEST_BODY_CONCURRENCY": 8,
}

#: Setting -> environment variable. Names are the plain, 12-factor ones operators expect.
ENV_NAMES: dict[str, str] = {key: key for key in DEFAULTS} | {
    "SESSION_COOKIE_SECURE": "COOKIE_SECURE",
}

#: Settings that must be real secrets in production.
SECRETS = ["SECRET_KEY"]

#: Where the checked product entries are kept in the settings (built from PRODUCTS_FILE).
PRODUCT_SPECS = "PRODUCT_SPECS"


def load_settings(
    test_config: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Layered settings plus the products file, checked: a bad entry, an unset or demo SCIM
    token in production, a support route no browser can follow (none at all in production),
    or the retired ``PRODUCTS`` list stops the start."""
    environ = os.environ if environ is None else environ
    given = dict(test_config or {})
    if "PRODUCTS" in environ or "PRODUCTS" in given:
        raise ConfigError(
            "PRODUCTS is no longer read: list the products in PRODUCTS_FILE "
            f"(TOML [[products]] entries; default {products_file.DEFAULT_FILE})"
        )
    settings = load(DEFAULTS, ENV_NAMES, test_config, environ)
    specs = products_file.load(str(settings["PRODUCTS_FILE"]))
    secrets = list(SECRETS)
    resolved = []
    for spec in specs:
        variable = spec.upstream_env()
        upstream = given.get(variable, environ.get(variable))
        if upstream:
            spec = products_file.with_upstream(spec, str(upstream), variable)
        if spec.linked is not None:
            token = spec.linked.scim_token_env
            demo = f"{DEMO_MARKER}{spec.name}-scim-token"
            settings[token] = given.get(token, environ.get(token, demo))
            secrets.append(token)
        resolved.append(spec)
    settings[PRODUCT_SPECS] = tuple(resolved)
    refuse_demo_secrets(settings, secrets)
    check_support_route(settings)
    return settings


_ADDRESS = re.compile(r"[^@\s<>\"'()\[\],;:\\]+@[^@\s<>\"'()\[\],;:\\]+\.[A-Za-z0-9-]+")


def _url_problem(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname or not url.isprintable():
        return "SUPPORT_URL must be an http(s) URL with a host"
    if any(c.isspace() or c in "<>\"'" for c in url):
        return "SUPPORT_URL must not contain spaces or quotes"
    return None


def check_support_route(settings: Mapping[str, Any]) -> None:
    """Refuse a support route no browser can follow; in production, refuse none at all: a
    "contact support" with nowhere to go locks people who lost their second factor out."""
    url, email = str(settings.get("SUPPORT_URL") or ""), str(settings.get("SUPPORT_EMAIL") or "")
    problem = _url_problem(url) if url else None
    if problem:
        raise ConfigError(problem)
    if email and (len(email) > 254 or not _ADDRESS.fullmatch(email)):
        raise ConfigError("SUPPORT_EMAIL must be one email address, like help@example.com")
    if settings.get("APP_ENV") == "production" and not (url or email):
        raise ConfigError(
            "SUPPORT_URL or SUPPORT_EMAIL must be set in production: people who lose their "
            "second factor are sent there"
        )

