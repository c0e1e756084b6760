"""Settings of a product app (product_stubs): defaults and the environment variables that set them.

Each product reads its own ``<PRODUCT>_*`` variables (its profile gives the name and the demo
port); ``APP_ENV``, ``GATEWAY_PUBLIC_URL`` and
``GATEWAY_INTERNAL_URL`` are shared by both products. Products hold no assertion secret: they
verify with the gateway's public JWKS. Demo secrets are the same values ``config.gateway``
uses, so the demo stack works without configuration and production refuses them.
"""

from __future__ import annotations

from typing import Any

from config import DEMO_MARKER, load, refuse_demo_secrets

#: Settings that must be real secrets in production.
SECRETS = ["SECRET_KEY", "SCIM_TOKEN"]


def product_defaults(name: str, port: int) -> dict[str, Any]:
    """Default settings of product ``name`` serving on ``port`` in the demo."""
    return {
        # Production unless told otherwise (shared APP_ENV): demo secrets are refused.
        "APP_ENV": "production",
        "SECRET_KEY": DEMO_MARKER + f"{name}-secret-key",
        "DATABASE_URL": f"sqlite:///instance/{name}.db",
        # Bearer token of the SCIM API and the internal linking endpoints.
        "SCIM_TOKEN": DEMO_MARKER + f"{name}-scim-token",
        # Tolerated clock difference with the gateway when checking iat/exp, in seconds.
        "ASSERTION_SKEW": 5,
        # The gateway's public URL: links to the Console, and the assertion issuer (`iss`).
        "GATEWAY_PUBLIC_URL": "http://127.0.0.1:5000",
        # Where the product fetches the gateway's public keys (GATEWAY_INTERNAL_URL +
        # /.well-known/jwks.json), cached per their max-age.
        "GATEWAY_INTERNAL_URL": "http://127.0.0.1:5000",
        # A pinned JWK Set file instead (air-gapped: `flask --app gateway keys jwks > file`).
        "JWKS_FILE": "",
        # Public path prefix under which the gateway serves this product.
        "PUBLIC_PREFIX": f"/{name}",
        # The product's own address (its login page; links in its mail), never a request's Host.
        # The demo puts it on 127.0.0.1 next to the gateway; in production a hostname of its own.
        "SITE_URL": f"http://127.0.0.1:{port}",
        # Seconds a sign-up link lasts; the password is chosen on the page it opens.
        "SIGNUP_LINK_MAX_AGE": 24 * 3600,
        # Mails to one address per hour and process (sign-up links and notices).
        "MAILS_PER_ADDRESS_PER_HOUR": 5,
        "SESSION_COOKIE_NAME": f"{name}_session",
        "SESSION_COOKIE_SECURE": False,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        # Seconds a product session lasts.
        "PRODUCT_SESSION_MAX_AGE": 8 * 3600,
        # Throttling of the own login page (per client address and per email).
        "LOGIN_IP_MAX_ATTEMPTS": 30,
        "LOGIN_EMAIL_MAX_FAILURES": 10,
        "LOGIN_WINDOW_SECONDS": 900,
        "MAX_CONTENT_LENGTH": 256 * 1024,
        "MAX_FORM_MEMORY_SIZE": 64 * 1024,
        # Cheap argon2 parameters; honoured only when APP_ENV == "test".
        "PASSWORD_HASH_FAST": False,
        "INVITATION_DAYS": 7,
    }


def product_env_names(name: str) -> dict[str, str]:
    """Setting -> environment variable for product ``name``."""
    prefix = name.upper() + "_"
    names = {key: prefix + key for key in product_defaults(name, 0)}
    names["APP_ENV"] = "APP_ENV"
    names["GATEWAY_PUBLIC_URL"] = "GATEWAY_PUBLIC_URL"
    names["GATEWAY_INTERNAL_URL"] = "GATEWAY_INTERNAL_URL"
    names["SESSION_COOKIE_SECURE"] = "COOKIE_SECURE"
    return names


def load_product(
    name: str, test_config: dict[str, Any] | None = None, *, port: int
) -> dict[str, Any]:
    """Layered settings of one product; refuses demo secrets in production."""
    settings = load(product_defaults(name, port), product_env_names(name), test_config)
    refuse_demo_secrets(settings, SECRETS)
    if settings["APP_ENV"] != "test":
        settings["PASSWORD_HASH_FAST"] = False
    settings["PUBLIC_PREFIX"] = "/" + str(settings["PUBLIC_PREFIX"]).strip("/")
    settings["GATEWAY_PUBLIC_URL"] = str(settings["GATEWAY_PUBLIC_URL"]).rstrip("/")
    settings["SITE_URL"] = str(settings["SITE_URL"]).rstrip("/")
    settings["GATEWAY_INTERNAL_URL"] = str(settings["GATEWAY_INTERNAL_URL"]).rstrip("/")
    return settings
