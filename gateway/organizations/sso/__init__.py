"""Single sign-on for organizations: connections to their identity providers (OpenID Connect,
SAML 2.0), identifier-first routing by verified domain, the sign-in an identity provider
vouches for (just-in-time accounts, managed accounts), and enforcement.

The protocol modules (``oidc``, and SAML's) turn an identity provider's answer into an
:class:`~gateway.organizations.sso.identity.SsoIdentity`; everything after that is one path,
:func:`gateway.organizations.sso.signin.complete_sso_signin`, whatever the protocol.
"""
