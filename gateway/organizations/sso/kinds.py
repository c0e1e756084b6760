"""The kinds of single sign-on connection, as data: each names its settings (the owner's form
is built from them) and checks what an owner submits before it is stored.

A protocol module declares its :class:`Kind`; :data:`KINDS` lists them (OpenID Connect:
``oidc``; SAML 2.0: ``saml``, ``saml_metadata``, ``saml_flow``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gateway.organizations.sso import oidc, saml_metadata


@dataclass(frozen=True)
class ConfigField:
    """One setting of a kind, as the owner's form shows it. A ``secret`` is stored sealed,
    never shown back; left empty on an edit, the stored one stays."""

    name: str
    label: str
    input: str = "text"  # "text", "url", "secret" or "textarea"
    description: str = ""
    max_length: int = 2000

    @property
    def secret(self) -> bool:
        return self.input == "secret"


#: (submitted values, the stored config or {} for a new connection) -> the config to store;
#: raises ``Refused`` with the reason in words.
ConfigCheck = Callable[[Mapping[str, str], Mapping[str, object]], dict[str, object]]


@dataclass(frozen=True)
class Kind:
    name: str
    title: str
    fields: tuple[ConfigField, ...]
    checked_config: ConfigCheck
    #: Whether sign-in through this kind works in this build.
    available: bool = True


OIDC = Kind(
    name="oidc", title="OpenID Connect",
    fields=(
        ConfigField("issuer", "Issuer URL", "url",
                    "The identity provider's issuer; its discovery document is read from "
                    "<issuer>/.well-known/openid-configuration.", 500),
        ConfigField("client_id", "Client ID", "text", "", 255),
        ConfigField("client_secret", "Client secret", "secret",
                    "Leave empty for a public client (PKCE alone).", 500),
    ),
    checked_config=oidc.checked_config,
)
SAML = Kind(
    name="saml", title="SAML 2.0",
    fields=(
        ConfigField("idp_metadata_url", "Identity provider metadata URL", "url",
                    "Where the identity provider publishes its metadata (https): read each "
                    "time you save. Or leave empty and paste the metadata below.", 2000),
        ConfigField("idp_metadata", "Identity provider metadata (XML)", "textarea",
                    "The metadata document your identity provider gives you (used when no "
                    "URL is given).", 60_000),
    ),
    checked_config=saml_metadata.checked_config,
)
KINDS: dict[str, Kind] = {kind.name: kind for kind in (OIDC, SAML)}


def kind_of(value: object) -> Kind | None:
    return KINDS.get(value) if isinstance(value, str) else None


def usable() -> list[str]:
    """The kinds sign-in can go through in this build."""
    return [kind.name for kind in KINDS.values() if kind.available]
