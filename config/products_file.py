"""The products behind the gateway, as data: ``PRODUCTS_FILE`` (TOML) read into typed records.

One ``[[products]]`` entry per product (see ``config/products.toml`` and docs/operations.md,
"Products file"). Every entry is checked when the gateway starts, and so is the edge configuration
generated from it (``config/edge``): a bad entry stops the start with a :class:`ProductsFileError`
naming the entry and the field, never a ``KeyError`` later. The records live here, not in
``gateway/``, because the edge-config generator reads them too and ``config`` imports no app.

The values end up in nginx and Caddy configurations, regular expressions and environment
variable names, so they are held to small alphabets rather than escaped everywhere.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal
from urllib.parse import urlsplit

from config import ConfigError

#: The file shipped with the gateway: Segment and SendGrid.
DEFAULT_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "products.toml")

ACCOUNTS = ("linked", "none")
#: A product name is the assertion's audience, an nginx upstream name and the start of
#: environment variable names (``<NAME>_UPSTREAM``).
_NAME = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*\Z")
#: ``/segment``, ``/tools/notes``: lower-case segments, no dots, no trailing slash.
_PREFIX = re.compile(r"(?:/[a-z0-9](?:[a-z0-9_-]*[a-z0-9])?)+\Z")
#: A product path rule (``/login``, ``/static/``): what the proxy compares paths with.
_PATH = re.compile(r"/(?:[A-Za-z0-9._~-]+/?)*\Z")
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9_]*\Z")
_WORD = re.compile(r"[a-z][a-z -]{0,30}\Z")
_TITLE = re.compile(r"[^\x00-\x1f\x7f<>&\"'{}]{1,40}\Z")
_MODULE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*\Z")
#: Names taken by the Console (the switcher's first item) and by the generated edge
#: configurations (nginx upstream ``gateway``, Caddy matchers ``bare``, ``internal…``).
RESERVED_NAMES = frozenset({"console", "gateway", "bare", "internal", "no_assertion",
                            "forward_auth"})

_REQUIRED = ("name", "title", "prefix", "upstream", "accounts")
_LINKED = ("scim_url", "scim_token_env", "link_url", "container")
_OPTIONAL = ("public_paths", "internal_paths", "demo_app")
_KNOWN = frozenset(_REQUIRED + _LINKED + _OPTIONAL)


class ProductsFileError(ConfigError):
    """A products file the gateway cannot start with; the message names entry and field."""


@dataclass(frozen=True)
class LinkedAccounts:
    """How the gateway reaches a product that has its own users (``accounts = "linked"``)."""

    #: SCIM 2.0 base (``/scim/v2``): a path on the upstream, or an absolute URL.
    scim_url: str
    #: The environment variable holding the bearer token of SCIM and linking calls.
    scim_token_env: str
    #: The linking endpoint (``/internal/link``; ``/verify`` below it checks credentials).
    link_url: str
    #: What a new product user owns: "workspace", "account".
    container: str


@dataclass(frozen=True)
class ProductSpec:
    """One ``[[products]]`` entry, checked."""

    #: The assertion's audience and the product's key everywhere (lower case).
    name: str
    #: How people see it: the switcher, audit wording, linking pages.
    title: str
    #: Public path prefix at the gateway (``/segment``).
    prefix: str
    #: ``http://host:port`` the product listens on (``<NAME>_UPSTREAM`` overrides it).
    upstream: str
    #: "linked": own users, linking, SCIM; "none": any signed-in Console user may enter.
    accounts: Literal["linked", "none"]
    #: Reachable without a Console session, forwarded without an assertion.
    public_paths: tuple[str, ...] = ()
    #: Never reachable through the gateway (provisioning, linking checks, health).
    internal_paths: tuple[str, ...] = ()
    linked: LinkedAccounts | None = None
    #: Module that ``python app.py`` runs for the demo (``create_app``, demo data); optional.
    demo_app: str = ""

    @property
    def upstream_address(self) -> str:
        """``host:port`` of the upstream (what an edge configuration names)."""
        parts = urlsplit(self.upstream)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        return f"{parts.hostname}:{port}"

    def upstream_env(self) -> str:
        """The environment variable that overrides :attr:`upstream`."""
        return self.name.upper() + "_UPSTREAM"


def load(path: str) -> tuple[ProductSpec, ...]:
    """The checked entries of the TOML file at ``path``."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as exc:
        raise ProductsFileError(f"PRODUCTS_FILE {path}: cannot read it ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProductsFileError(f"PRODUCTS_FILE {path}: not valid TOML ({exc})") from None
    return parse(data, source=path)


def parse(data: Mapping[str, Any], source: str = "PRODUCTS_FILE") -> tuple[ProductSpec, ...]:
    """Check a parsed products file: every entry, then the entries against each other."""
    unknown = set(data) - {"products"}
    if unknown:
        raise ProductsFileError(f"{source}: unknown top-level key {sorted(unknown)[0]!r}")
    entries = data.get("products")
    if not isinstance(entries, list) or not entries:
        raise ProductsFileError(f"{source}: no [[products]] entry")
    specs = tuple(_entry(source, index, entry) for index, entry in enumerate(entries, 1))
    _check_together(source, specs)
    return specs


def with_upstream(spec: ProductSpec, upstream: str, source: str) -> ProductSpec:
    """``spec`` with another upstream (an environment override), checked like the file's."""
    return replace(spec, upstream=_upstream(_Field(source, spec.name, "upstream"), upstream))


@dataclass(frozen=True)
class _Field:
    source: str
    entry: str
    name: str

    def error(self, message: str) -> ProductsFileError:
        return ProductsFileError(
            f"{self.source}: products entry {self.entry}, field {self.name!r}: {message}"
        )


def _entry(source: str, index: int, entry: object) -> ProductSpec:
    label = f"#{index}"
    if not isinstance(entry, dict):
        raise ProductsFileError(f"{source}: products entry {label} is not a table")
    if isinstance(entry.get("name"), str):
        label = f"#{index} ({entry['name']!r})"

    def field(name: str) -> _Field:
        return _Field(source, label, name)

    for key in sorted(set(entry) - _KNOWN):
        raise field(key).error("unknown field")
    for key in _REQUIRED:
        if key not in entry:
            raise field(key).error("missing")
    accounts = _text(field("accounts"), entry["accounts"])
    if accounts not in ACCOUNTS:
        raise field("accounts").error(f'must be "linked" or "none", not {accounts!r}')
    name = _match(field("name"), entry["name"], _NAME, "lower-case letters, digits and _")
    if name in RESERVED_NAMES or name.startswith("internal"):
        raise field("name").error(f"{name!r} is reserved for the gateway's own use")
    internal = _paths(field("internal_paths"), entry.get("internal_paths", []))
    linked = None
    if accounts == "linked":
        for key in _LINKED:
            if key not in entry:
                raise field(key).error('required when accounts = "linked"')
        linked = LinkedAccounts(
            scim_url=_endpoint(field("scim_url"), entry["scim_url"], internal),
            scim_token_env=_match(
                field("scim_token_env"), entry["scim_token_env"], _ENV_NAME,
                "an environment variable name (A-Z, 0-9, _)",
            ),
            link_url=_endpoint(field("link_url"), entry["link_url"], internal),
            container=_match(field("container"), entry["container"], _WORD, "a lower-case word"),
        )
    else:
        for key in _LINKED:
            if key in entry:
                raise field(key).error('only for accounts = "linked"')
    return ProductSpec(
        name=name,
        title=_match(field("title"), entry["title"], _TITLE, "1 to 40 plain characters"),
        prefix=_match(field("prefix"), entry["prefix"], _PREFIX,
                      'like "/segment": lower-case segments, no trailing slash'),
        upstream=_upstream(field("upstream"), entry["upstream"]),
        accounts="linked" if accounts == "linked" else "none",
        public_paths=_paths(field("public_paths"), entry.get("public_paths", [])),
        internal_paths=internal,
        linked=linked,
        demo_app=_match(field("demo_app"), entry.get("demo_app", ""), _MODULE, "a module name")
        if entry.get("demo_app", "") != "" else "",
    )


def _check_together(source: str, specs: tuple[ProductSpec, ...]) -> None:
    """No two entries share a name, a token variable or a prefix, nor nest their prefixes
    (``/a`` and ``/a/b``: which product would ``/a/b/x`` be?)."""
    seen: dict[str, int] = {}
    for index, spec in enumerate(specs, 1):
        keys = [("name", spec.name), ("prefix", spec.prefix)]
        if spec.linked:
            keys.append(("scim_token_env", spec.linked.scim_token_env))
        for field, value in keys:
            owner = seen.setdefault(f"{field}={value}", index)
            if owner != index:
                raise _Field(source, f"#{index} ({spec.name!r})", field).error(
                    f"{value!r} is already used by entry #{owner}"
                )
    for inner in specs:
        for outer in specs:
            if inner.prefix.startswith(outer.prefix + "/"):
                raise _Field(source, repr(inner.name), "prefix").error(
                    f"{inner.prefix!r} lies under {outer.name!r}'s {outer.prefix!r}"
                )


def _text(field: _Field, value: object) -> str:
    if not isinstance(value, str):
        raise field.error(f"must be a string, not {type(value).__name__}")
    return value


def _match(field: _Field, value: object, pattern: re.Pattern[str], what: str) -> str:
    text = _text(field, value)
    if not pattern.match(text):
        raise field.error(f"must be {what}, not {text!r}")
    return text


def _paths(field: _Field, value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise field.error("must be a list of paths")
    return tuple(
        _match(field, item, _PATH, 'a path like "/login" or "/static/"') for item in value
    )


def _upstream(field: _Field, value: object) -> str:
    text = _text(field, value)
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise field.error(f"bad port in {text!r}") from None
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.username is not None
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or not re.fullmatch(r"[A-Za-z0-9.:\[\]-]+", parts.netloc)
    ):
        raise field.error(f"must be http(s)://host[:port] with nothing after it, not {text!r}")
    return text.rstrip("/")


def _endpoint(field: _Field, value: object, internal: tuple[str, ...]) -> str:
    """A path on the upstream (which ``internal_paths`` must keep away from the public proxy)
    or an absolute http(s) URL."""
    text = _text(field, value)
    if text.startswith("/"):
        if not _PATH.match(text) or text.endswith("/"):
            raise field.error(f'must be a path like "/scim/v2", not {text!r}')
        segments = text.lower().strip("/").split("/")
        if not any(
            segments[: len(rule_segments)] == rule_segments
            for rule_segments in (rule.lower().strip("/").split("/") for rule in internal)
        ):
            raise field.error(
                f"{text!r} would be reachable through the public proxy: "
                f"list {'/' + segments[0]!r} in internal_paths"
            )
        return text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise field.error(f"must be a path on the upstream or an http(s) URL, not {text!r}")
    return text.rstrip("/")
