"""A browser's SAML sign-in through one connection: ``begin`` (the AuthnRequest, its id kept
in the browser's session cookie, signed and HttpOnly, for ``FLOW_SECONDS``) and ``complete``
(the IdP's POST to the ACS checked against that id, spent once whatever happens), as the
OIDC flow keeps its ``state`` (``gateway.organizations.sso.oidc``).

Keeping the request id in the browser's own session is what binds the answer to the browser
that asked: a response captured elsewhere and posted by another page (login CSRF, a replayed
form) answers no request of this browser and is refused. ``store`` is any mapping (Flask's
``session`` in the views), so nothing here knows Flask.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

from gateway.organizations.sso import saml
from gateway.organizations.sso.identity import SsoIdentity
from gateway.organizations.sso.saml import SamlRefused, ServiceProvider

FLOW_KEY = "sso_saml_flow"
FLOW_SECONDS = 600


def identity_provider(config: Mapping[str, object]) -> saml.IdentityProvider:
    """The connection's IdP from its stored metadata (checked again: it was stored by an
    owner's save, or edited by hand)."""
    try:
        return saml.read_idp_metadata(str(config.get("idp_metadata", "")))
    except saml.InvalidMetadata:
        raise SamlRefused("saml_connection_broken", "This single sign-on connection is not set "
                          "up completely. Tell your organization's administrators.") from None


def pending(store: Mapping[str, Any], connection_id: str) -> bool:
    """Whether this browser has a sign-in through ``connection_id`` waiting for its answer."""
    flow = store.get(FLOW_KEY)
    return isinstance(flow, dict) and flow.get("cid") == connection_id


def begin(connection_id: str, config: Mapping[str, object], sp: ServiceProvider,
          next_path: str, store: MutableMapping[str, Any], *, reauth: bool = False) -> str:
    """The IdP's URL carrying our AuthnRequest; the request's id waits in ``store``.
    ``reauth``: a re-authentication (``ForceAuthn``: the IdP must ask again, and the
    assertion's AuthnInstant must be now)."""
    request = saml.authn_request(sp, identity_provider(config), force_authn=reauth)
    store[FLOW_KEY] = {"cid": connection_id, "rid": request.request_id, "next": next_path,
                       "at": int(time.time()), "reauth": reauth}
    return request.url


@dataclass(frozen=True)
class Completed:
    """A finished flow: who, where to go on, and whether it was a re-authentication."""

    identity: SsoIdentity
    next_path: str
    reauth: bool


def complete(connection_id: str, config: Mapping[str, object], sp: ServiceProvider,
             saml_response: object, store: MutableMapping[str, Any]) -> Completed:
    """The identity the IdP vouched for, and the page to go on to; the assertion is spent in
    the caller's transaction. Raises :class:`SamlRefused`."""
    flow = store.pop(FLOW_KEY, None)  # spent, whatever happens next
    if not isinstance(flow, dict) or flow.get("cid") != connection_id:
        raise SamlRefused("no_flow", "This sign-in was not started in this browser, or it was "
                          "already used. Start again.")
    started = int(flow.get("at", 0))
    if time.time() - started > FLOW_SECONDS:
        raise SamlRefused("expired_flow", "The sign-in took too long. Start again.")
    assertion = saml.consume(sp, identity_provider(config), saml_response, str(flow.get("rid")))
    reauth = flow.get("reauth") is True
    if reauth and (assertion.authn_instant is None
                   or assertion.authn_instant < started - saml.CLOCK_SKEW_SECONDS):
        raise SamlRefused("saml_authn_instant", "The identity provider did not ask you to sign "
                          "in again, so this does not confirm it is you. Try again.")
    identity = SsoIdentity(email=assertion.email, subject=assertion.name_id,
                           issuer=assertion.issuer, kind="saml", amr=assertion.amr)
    return Completed(identity, str(flow.get("next") or "/"), reauth)
