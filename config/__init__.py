"""Typed, layered configuration: a frozen dataclass of defaults, then environment variables,
then a test mapping, checked at start.

Every app (gateway, each product) describes its settings as a dataclass whose fields carry the
type, the default and (in ``field(metadata=...)``) the environment variable, the allowed range
or choices; :func:`load` builds it. A value of the wrong type or out of range stops the start
with a :class:`ConfigError` naming the variable. Secrets never fall back silently: in
``APP_ENV=production`` a missing or demo secret stops start-up.

Field metadata (all optional): ``env`` (the variable(s), first one set wins; default: the
field name), ``shared`` (not under an app's prefix), ``min``/``max`` (numbers), ``choices``
(strings), ``check`` (a callable raising ValueError), ``secret`` (refused as a demo value in
production).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

#: Every demo secret starts with this marker so production can recognise and refuse it.
DEMO_MARKER = "demo-insecure-"

ENVIRONMENTS = ("development", "demo", "test", "production")

T = TypeVar("T")


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or unusable; the app refuses to start."""


def _bool(value: str) -> bool:
    if value.strip().lower() in {"1", "true", "yes", "on"}:
        return True
    if value.strip().lower() in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError(f"not a boolean: {value!r} (true/false)")


def _int(value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise ValueError(f"not an integer: {value!r}") from None


def _list(value: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in value.split(",") if item.strip())


#: How an environment string becomes a value, by the field's type.
_PARSERS: dict[Any, Callable[[str], Any]] = {
    bool: _bool, int: _int, str: str, tuple[str, ...]: _list,
}


def env_names(item: dataclasses.Field[Any]) -> tuple[str, ...]:
    """The environment variables that set field ``item``, first one set wins."""
    names = item.metadata.get("env", item.name)
    return (names,) if isinstance(names, str) else tuple(names)


def setting_types(cls: type) -> dict[str, Any]:
    """Field name -> type of the settings dataclass ``cls`` (annotations resolved)."""
    hints = typing.get_type_hints(cls)
    return {item.name: hints[item.name] for item in dataclasses.fields(cls)}


def _from_python(kind: Any, value: Any) -> Any:
    """A test mapping's value, checked against the field type (strings parsed as from the
    environment)."""
    if isinstance(value, str) and kind is not str:
        return _PARSERS[kind](value)
    if kind == tuple[str, ...] and isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            return tuple(value)
    elif kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    elif kind in (bool, str) and isinstance(value, kind):
        return value
    raise ValueError(f"expected {getattr(kind, '__name__', kind)}, not {value!r}")


def _check(item: dataclasses.Field[Any], value: Any) -> None:
    low, high = item.metadata.get("min"), item.metadata.get("max")
    if low is not None and value < low:
        raise ValueError(f"must be at least {low}, not {value!r}")
    if high is not None and value > high:
        raise ValueError(f"must be at most {high}, not {value!r}")
    choices = item.metadata.get("choices")
    if choices is not None and value not in choices:
        raise ValueError(f"must be one of {', '.join(choices)}, not {value!r}")
    check = item.metadata.get("check")
    if check is not None:
        check(value)


def load(
    cls: type[T],
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    prefix: str = "",
) -> T:
    """``cls``'s defaults, overridden by the environment, then by ``overrides`` (keyed by field
    name; other keys are ignored here). Variables not shared (``metadata["shared"]``) are read
    as ``prefix`` + name (a product's ``SEGMENT_*``)."""
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    kinds = setting_types(cls)
    values: dict[str, Any] = {}
    for item in dataclasses.fields(cls):  # type: ignore[arg-type]
        kind = kinds[item.name]
        names = env_names(item)
        if not item.metadata.get("shared"):
            names = tuple(prefix + name for name in names)
        source, value = item.name, None
        try:
            if item.name in overrides:
                value = _from_python(kind, overrides[item.name])
            else:
                source = next((name for name in names if name in environ), "")
                if not source:
                    continue
                value = _PARSERS[kind](environ[source])
            _check(item, value)
        except ValueError as exc:
            raise ConfigError(f"{source}: {exc}") from None
        values[item.name] = value
    return cls(**values)


def is_demo_secret(value: object) -> bool:
    return not value or (isinstance(value, str) and value.startswith(DEMO_MARKER))


def refuse_demo_secret(app_env: str, name: str, value: object) -> None:
    """In production every secret must be set, must not be a demo value, and must be long."""
    if app_env != "production":
        return
    if is_demo_secret(value):
        raise ConfigError(f"{name} is missing or a demo value; refusing to start in production")
    if isinstance(value, str) and len(value) < 32:
        raise ConfigError(f"{name} must be at least 32 characters in production")


def refuse_demo_secrets(settings: Any, app_env: str, prefix: str = "") -> None:
    """:func:`refuse_demo_secret` for every field of ``settings`` marked ``secret``."""
    for item in dataclasses.fields(settings):
        if item.metadata.get("secret"):
            name = env_names(item)[0]
            name = name if item.metadata.get("shared") else prefix + name
            refuse_demo_secret(app_env, name, getattr(settings, item.name))


def networks(values: tuple[str, ...]) -> None:
    """``check`` of an allow-list of networks (``10.0.0.0/8``, ``::1/128``)."""
    for value in values:
        ipaddress.ip_network(value, strict=False)  # its ValueError names the bad one


def http_url(value: str) -> None:
    """``check`` of a base URL: ``http(s)://host[:port]``, nothing after it but a slash."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path.strip("/"):
        raise ValueError(f"not an http(s)://host[:port] URL: {value!r}")


def setting(default: Any, **metadata: Any) -> Any:
    """A settings field: its default and metadata (module docstring); list defaults become
    tuples (frozen)."""
    if isinstance(default, list):
        default = tuple(default)
    return dataclasses.field(default=default, metadata=metadata)
