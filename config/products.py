"""Settings of a product app (product_stubs): one typed dataclass, loaded from the environment
and checked at start.

Each product reads its own ``<PRODUCT>_*`` variables (its profile gives the name and the demo
port); ``APP_ENV``, ``GATEWAY_PUBLIC_URL``, ``GATEWAY_INTERNAL_URL`` and ``COOKIE_SECURE`` are
shared by every product. ``GATEWAY_PUBLIC_URL`` unset falls back to the gateway's own
``PUBLIC_URL``: one variable tells the gateway its address and the products their issuer
(``PUBLIC_URL=http://localhost:5000 python app.py``). Products hold no assertion secret: they
verify with the gateway's public JWKS. product_stubs/README.md lists the same variables in one
table (``tests/test_settings.py`` compares them).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from config import (
    DEMO_MARKER,
    ENVIRONMENTS,
    ConfigError,
    http_url,
    load,
    refuse_demo_secrets,
    setting,
)

POSITIVE = {"min": 1}


@dataclass(frozen=True)
class ProductSettings:
    """Every product setting; ``{name}`` and ``{port}`` in a default are the product's own.
    Field names are the Flask config keys; the variable is ``<PRODUCT>_`` + the name unless
    the field is ``shared``."""

    # Production unless told otherwise: demo secrets are refused.
    APP_ENV: str = setting("production", shared=True, choices=ENVIRONMENTS)
    SECRET_KEY: str = setting(DEMO_MARKER + "{name}-secret-key", secret=True)
    DATABASE_URL: str = setting("sqlite:///instance/{name}.db")
    # Bearer token of the SCIM API and the internal linking endpoints.
    SCIM_TOKEN: str = setting(DEMO_MARKER + "{name}-scim-token", secret=True)
    # Tolerated clock difference with the gateway when checking iat/exp, in seconds.
    ASSERTION_SKEW: int = setting(5, min=0, max=60)
    # The gateway's public URL: links to the Console, and the assertion issuer (`iss`).
    # Unset: the gateway's PUBLIC_URL (one variable for both in a shared environment).
    GATEWAY_PUBLIC_URL: str = setting(
        "http://127.0.0.1:5000", shared=True, env=("GATEWAY_PUBLIC_URL", "PUBLIC_URL"),
        check=http_url,
    )
    # Where the product fetches the gateway's public keys (GATEWAY_INTERNAL_URL +
    # /.well-known/jwks.json), cached per their max-age.
    GATEWAY_INTERNAL_URL: str = setting("http://127.0.0.1:5000", shared=True, check=http_url)
    # A pinned JWK Set file instead (air-gapped: `flask --app gateway keys jwks > file`).
    JWKS_FILE: str = setting("")
    # Public path prefix under which the gateway serves this product.
    PUBLIC_PREFIX: str = setting("/{name}")
    # The product's own address (its login page; links in its mail), never a request's Host.
    # The demo puts it on 127.0.0.1 next to the gateway; in production a hostname of its own.
    SITE_URL: str = setting("http://127.0.0.1:{port}", check=http_url)
    # Seconds a sign-up link lasts; the password is chosen on the page it opens.
    SIGNUP_LINK_MAX_AGE: int = setting(24 * 3600, **POSITIVE)
    # Mails to one address per hour and process (sign-up links and notices).
    MAILS_PER_ADDRESS_PER_HOUR: int = setting(5, **POSITIVE)
    SESSION_COOKIE_NAME: str = setting("{name}_session")
    SESSION_COOKIE_SECURE: bool = setting(False, shared=True, env="COOKIE_SECURE")
    SESSION_COOKIE_HTTPONLY: bool = setting(True)
    SESSION_COOKIE_SAMESITE: str = setting("Lax", choices=("Lax", "Strict"))
    # Seconds a product session lasts.
    PRODUCT_SESSION_MAX_AGE: int = setting(8 * 3600, min=60)
    # Throttling of the own login page (per client address and per email).
    LOGIN_IP_MAX_ATTEMPTS: int = setting(30, **POSITIVE)
    LOGIN_EMAIL_MAX_FAILURES: int = setting(10, **POSITIVE)
    LOGIN_WINDOW_SECONDS: int = setting(900, **POSITIVE)
    MAX_CONTENT_LENGTH: int = setting(256 * 1024, min=1024)
    MAX_FORM_MEMORY_SIZE: int = setting(64 * 1024, min=1024)
    INVITATION_DAYS: int = setting(7, **POSITIVE)


@dataclass(frozen=True)
class ProductTestSwitches:
    """Switches only test fixtures set, as an explicit argument of the product factory (never
    read from the environment, refused outside ``APP_ENV=test``): cheap argon2 parameters, and
    the fault-injection endpoint ``/internal/test/faults``."""

    fast_password_hashing: bool = False
    fault_endpoint: bool = False


#: What production runs with: no switch thrown.
PRODUCTION = ProductTestSwitches()

#: Test-mapping keys that were settings once and are switches now: refused with a pointer.
RETIRED_TEST_KEYS = ("PASSWORD_HASH_FAST",)


def load_product(
    name: str,
    test_config: dict[str, Any] | None = None,
    *,
    port: int,
    switches: ProductTestSwitches = PRODUCTION,
    environ: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The checked settings of product ``name`` as its Flask config (every setting under its
    own key, plus the test mapping's other keys); refuses demo secrets in production, and test
    switches outside ``APP_ENV=test``."""
    given = dict(test_config or {})
    retired = [key for key in RETIRED_TEST_KEYS if key in given]
    if retired:
        raise ConfigError(
            f"{', '.join(retired)}: test-only switches, not settings; pass "
            "create_app(switches=ProductTestSwitches(...))"
        )
    settings = load(ProductSettings, given, environ, prefix=name.upper() + "_")
    own: dict[str, Any] = {
        item.name: item.default.format(name=name, port=port)
        for item in dataclasses.fields(ProductSettings)
        if isinstance(item.default, str) and getattr(settings, item.name) == item.default
    }
    settings = dataclasses.replace(settings, **own)
    refuse_demo_secrets(settings, settings.APP_ENV, prefix=name.upper() + "_")
    if switches != PRODUCTION and settings.APP_ENV != "test":
        raise ConfigError(f"test switches {switches} given with APP_ENV={settings.APP_ENV}")
    settings = dataclasses.replace(
        settings,
        PUBLIC_PREFIX="/" + settings.PUBLIC_PREFIX.strip("/"),
        GATEWAY_PUBLIC_URL=settings.GATEWAY_PUBLIC_URL.rstrip("/"),
        SITE_URL=settings.SITE_URL.rstrip("/"),
        GATEWAY_INTERNAL_URL=settings.GATEWAY_INTERNAL_URL.rstrip("/"),
    )
    names = {item.name for item in dataclasses.fields(ProductSettings)}
    extras = {key: value for key, value in given.items() if key not in names}
    return extras | dataclasses.asdict(settings)
