"""What an identity provider vouched for, once its protocol's checks passed (signature,
audience, time, replay, nonce): the one shape every protocol hands to
:func:`gateway.organizations.sso.signin.complete_sso_signin`."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SsoIdentity:
    #: The address the identity provider asserts (OIDC ``email`` with ``email_verified``;
    #: SAML ``NameID`` in the emailAddress format).
    email: str
    #: The identity provider's own id of the person (OIDC ``sub``, SAML ``NameID``).
    subject: str
    #: The identity provider (OIDC ``iss``, SAML entity id): the assertion's ``idp`` claim.
    issuer: str
    #: "oidc" or "saml".
    kind: str
    #: The methods the identity provider says it used (OIDC ``amr``; SAML: its
    #: AuthnContextClassRef mapped to RFC 8176 names), empty when it says none.
    amr: tuple[str, ...] = ()
