"""Layered configuration: defaults, then environment variables, then a test mapping.

Every app (gateway, Segment, SendGrid) builds its settings with :func:`load`. Secrets never
fall back silently: in ``APP_ENV=production`` a missing or demo secret stops start-up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any

#: Every demo secret starts with this marker so production can recognise and refuse it.
DEMO_MARKER = "demo-insecure-"

ENVIRONMENTS = ("development", "demo", "test", "production")


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or unusable; the app refuses to start."""


def _bool(value: str) -> bool:
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(f"not a boolean: {value!r}")


def _int(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"not an integer: {value!r}") from None


def _list(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


#: How an environment string becomes a setting, chosen by the default's type.
_PARSERS: dict[type, Callable[[str], Any]] = {bool: _bool, int: _int, list: _list, str: str}


def load(
    defaults: Mapping[str, Any],
    env_names: Mapping[str, str],
    test_config: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return ``defaults`` overridden by environment variables, then by ``test_config``.

    ``env_names`` maps a setting to the environment variable that sets it; the value is parsed
    according to the type of the default (``None`` defaults are read as strings).
    """
    environ = os.environ if environ is None else environ
    settings = dict(defaults)
    for key, variable in env_names.items():
        if variable in environ:
            default = defaults.get(key)
            parser = _PARSERS.get(type(default), str)
            settings[key] = parser(environ[variable])
    if test_config:
        settings.update(test_config)
    if settings.get("APP_ENV") not in ENVIRONMENTS:
        raise ConfigError(f"APP_ENV must be one of {ENVIRONMENTS}, not {settings.get('APP_ENV')!r}")
    return settings


def is_demo_secret(value: object) -> bool:
    return not value or (isinstance(value, str) and value.startswith(DEMO_MARKER))


def refuse_demo_secrets(settings: Mapping[str, Any], secret_keys: list[str]) -> None:
    """In production every secret must be set and must not be a demo value."""
    if settings.get("APP_ENV") != "production":
        return
    for key in secret_keys:
        value = settings.get(key)
        values = value if isinstance(value, list) else [value]
        if not values or any(is_demo_secret(v) for v in values):
            raise ConfigError(f"{key} is missing or a demo value; refusing to start in production")
        if any(isinstance(v, str) and len(v) < 32 for v in values):
            raise ConfigError(f"{key} must be at least 32 characters in production")
