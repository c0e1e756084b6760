"""Gateway settings: defaults and the environment variables that override them."""

from __future__ import annotations

from typing import Any

from config import DEMO_MARKER

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
    # Mail: SMTP when SMTP_HOST is set, otherwise the local outbox (developer mailbox page).
    "SMTP_HOST": "",
    "SMTP_PORT": 25,
    "SMTP_USERNAME": "",
    "SMTP_PASSWORD": "",
    "SMTP_STARTTLS": False,
    "MAIL_FROM": "Unified Login <no-reply@unified-login.local>",
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
    # Repair interrupted email changes from a background thread (off in in-process tests,
    # which call the repair themselves; on for every served process).
    "EMAIL_CHANGE_BACKGROUND_REPAIR": True,
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
    # "Remember this device": how long a remembered browser skips the second factor, and the
    # browser cookie naming the devices a person signed in from (new-sign-in notice), with its
    # lifetime (it outlives the 30 days: a device seen before gets no notice).
    "REMEMBER_DEVICE_SECONDS": 30 * 24 * 3600,
    "DEVICE_COOKIE_NAME": "gw_device",
    "DEVICE_COOKIE_MAX_AGE": 365 * 24 * 3600,
    # Mails per recipient and hour, whatever sent them (notices about the recipient's own
    # account excepted; see gateway/mail.py).
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
    # Products behind the gateway (their names), then per product: public prefix, upstream
    # URL, SCIM token, and optionally the paths reachable without a session
    # (<NAME>_PUBLIC_PATHS) and never reachable through the proxy (<NAME>_INTERNAL_PATHS).
    "PRODUCTS": ["segment", "sendgrid"],
    "SEGMENT_PUBLIC_PATHS": ["/login", "/signup", "/static/", "/favicon.ico"],
    "SEGMENT_INTERNAL_PATHS": ["/scim", "/internal", "/healthz", "/readyz"],
    "SENDGRID_PUBLIC_PATHS": ["/login", "/signup", "/static/", "/favicon.ico"],
    "SENDGRID_INTERNAL_PATHS": ["/scim", "/internal", "/healthz", "/readyz"],
    "SEGMENT_PREFIX": "/segment",
    "SEGMENT_UPSTREAM": "http://127.0.0.1:5001",
    "SEGMENT_SCIM_TOKEN": DEMO_MARKER + "segment-scim-token",
    "SENDGRID_PREFIX": "/sendgrid",
    "SENDGRID_UPSTREAM": "http://127.0.0.1:5002",
    "SENDGRID_SCIM_TOKEN": DEMO_MARKER + "sendgrid-scim-token",
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
    # Proxied request bodies (gateway.request_body): seconds a client may take to send a body
    # of up to REQUEST_BODY_BUFFER bytes (read whole before the product is contacted), and the
    # longest wait for any read of a larger one (408 beyond); bodies received at once per
    # process (503 with Retry-After beyond).
    "REQUEST_BODY_TIMEOUT": 10,
    "REQUEST_BODY_BUFFER": 256 * 1024,
    "REQUEST_BODY_CONCURRENCY": 8,
}

#: Setting -> environment variable. Names are the plain, 12-factor ones operators expect.
ENV_NAMES: dict[str, str] = {key: key for key in DEFAULTS} | {
    "SESSION_COOKIE_SECURE": "COOKIE_SECURE",
}

#: Settings that must be real secrets in production.
SECRETS = [
    "SECRET_KEY",
    "SEGMENT_SCIM_TOKEN",
    "SENDGRID_SCIM_TOKEN",
]

