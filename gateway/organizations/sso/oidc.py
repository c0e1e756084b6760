"""OpenID Connect sign-in (the authorization code flow) with Authlib's client: discovery, PKCE
(S256), ``state``, ``nonce``, and the ID token's checks (signature by the identity provider's
JWKS, ``iss``, ``aud``, ``azp``, ``exp``, ``iat``, ``nonce``, ``at_hash``), then
``email_verified``. What comes out is an :class:`SsoIdentity`; nothing here signs anyone in.

The flow's secrets (``state``, ``nonce``, the PKCE verifier) wait in the browser's session
cookie (signed, HttpOnly) for ``FLOW_SECONDS``; the callback spends them once, whatever it
answers, so a callback URL cannot be replayed.

Decisions: the issuer and every endpoint are ``https`` (plain ``http`` only with the test
switch ``plain_http_identity_providers``: the tests' provider runs on loopback); discovery
and keys are read at each sign-in (no cache to go stale when the provider rotates keys); an
address is taken only with ``email_verified`` true; an ID token without ``email`` is
completed from the userinfo endpoint, whose ``sub`` must be the ID token's. Every call goes through
``idp_http``, which refuses names that resolve to non-public addresses.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.common.errors import AuthlibBaseError
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oidc.core import CodeIDToken
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from config.gateway import test_switches
from gateway.organizations.errors import Refused
from gateway.organizations.sso import idp_http, sealing
from gateway.organizations.sso.identity import SsoIdentity

#: Seconds a started sign-in may take at the identity provider.
FLOW_SECONDS = 600
#: Seconds of clock difference tolerated with the identity provider (``exp``, ``iat``).
LEEWAY = 30
TIMEOUT, MAX_ANSWER = idp_http.TIMEOUT, idp_http.MAX_ANSWER
#: Signature algorithms accepted for ID tokens (never ``none``, never a shared-secret HMAC).
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
              "ES512", "EdDSA")
SCOPE = "openid email profile"
FLOW_KEY = "sso_oidc_flow"


class IdpUnavailable(Exception):
    """The identity provider did not answer, or answered with something unusable."""


class FlowRefused(Exception):
    """The answer that came back is not one this gateway can accept; ``message`` in words,
    ``reason`` for the audit row."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message


# ----- settings ------------------------------------------------------------------------------

def _plain_http_allowed() -> bool:
    return test_switches(current_app).plain_http_identity_providers


def _url_ok(value: object) -> bool:
    if not isinstance(value, str) or len(value) > 2000:
        return False
    parts = urlsplit(value)
    schemes = {"https", "http"} if _plain_http_allowed() else {"https"}
    return parts.scheme in schemes and bool(parts.hostname) and not parts.username


def checked_config(values: Mapping[str, str], previous: Mapping[str, object]
                   ) -> dict[str, object]:
    """The settings to store: the issuer (its discovery read now, so a typo is caught while
    the owner is here), the client id, and the client secret sealed (kept when left empty)."""
    issuer = values.get("issuer", "").strip()
    client_id = values.get("client_id", "").strip()
    if not _url_ok(issuer):
        raise Refused("Enter the issuer as an https URL, like https://idp.example.com.")
    if not client_id or len(client_id) > 255 or not client_id.isprintable():
        raise Refused("Enter the client ID the identity provider gave you.")
    try:
        discover(issuer)
    except IdpUnavailable as failure:
        raise Refused(f"The identity provider's discovery document could not be read: "
                      f"{failure}") from None
    config: dict[str, object] = {"issuer": issuer, "client_id": client_id}
    secret = values.get("client_secret", "")
    if secret:
        if len(secret) > 500 or not secret.isprintable():
            raise Refused("That client secret is not one an identity provider issues.")
        config["client_secret_sealed"] = sealing.seal(secret)
    elif previous.get("client_secret_sealed") and previous.get("client_id") == client_id:
        config["client_secret_sealed"] = previous["client_secret_sealed"]
    return config


# ----- talking to the identity provider ------------------------------------------------------

def _json(answer: requests.Response) -> dict[str, Any]:
    if answer.status_code != 200:
        raise IdpUnavailable(f"it answered HTTP {answer.status_code}")
    if len(answer.content) > MAX_ANSWER:
        raise IdpUnavailable("its answer is too large")
    try:
        data = answer.json()
    except ValueError:
        raise IdpUnavailable("its answer is not JSON") from None
    if not isinstance(data, dict):
        raise IdpUnavailable("its answer is not a JSON object")
    return data


def _get(url: str, **kwargs: Any) -> dict[str, Any]:
    try:
        with idp_http.plain_session() as session:
            return _json(session.get(url, timeout=TIMEOUT, allow_redirects=False, **kwargs))
    except requests.RequestException as failure:
        raise IdpUnavailable(idp_http.no_answer(failure)) from None


def discover(issuer: str) -> dict[str, Any]:
    """The provider's metadata (OpenID Connect Discovery 1.0), checked: its ``issuer`` is
    exactly the one configured, its endpoints are URLs we may call."""
    metadata = _get(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if metadata.get("issuer") != issuer:
        raise IdpUnavailable("its discovery document names another issuer")
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not _url_ok(metadata.get(name)):
            raise IdpUnavailable(f"its discovery document has no usable {name}")
    if "userinfo_endpoint" in metadata and not _url_ok(metadata["userinfo_endpoint"]):
        del metadata["userinfo_endpoint"]
    return metadata


@dataclass(frozen=True)
class Client:
    """One connection's client settings, as stored (the secret unsealed)."""

    issuer: str
    client_id: str
    client_secret: str | None

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> Client:
        sealed = config.get("client_secret_sealed")
        try:
            secret = sealing.unseal(str(sealed)) if sealed else None
        except sealing.Unsealable:
            raise IdpUnavailable("its client secret was sealed with another SECRET_KEY: an "
                                 "owner must enter it again") from None
        return cls(str(config.get("issuer", "")), str(config.get("client_id", "")), secret)

    def session(self, redirect_uri: str) -> OAuth2Session:
        return idp_http.oauth_session(
            client_id=self.client_id, client_secret=self.client_secret, scope=SCOPE,
            redirect_uri=redirect_uri, code_challenge_method="S256",
            token_endpoint_auth_method="client_secret_basic" if self.client_secret else "none",
        )


# ----- the flow ------------------------------------------------------------------------------

def begin(connection_id: str, config: Mapping[str, object], redirect_uri: str,
          next_path: str, store: MutableMapping[str, Any], *, reauth: bool = False) -> str:
    """The identity provider's authorization URL; the flow's secrets wait in ``store``.
    ``reauth``: a re-authentication (``prompt=login``, ``max_age=0``: the provider must ask
    again, and its ``auth_time`` must be now)."""
    client = Client.from_config(config)
    metadata = discover(client.issuer)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    extra = {"prompt": "login", "max_age": "0"} if reauth else {}
    url, _ = client.session(redirect_uri).create_authorization_url(
        metadata["authorization_endpoint"], state=state, nonce=nonce, code_verifier=verifier,
        **extra)
    store[FLOW_KEY] = {"cid": connection_id, "state": state, "nonce": nonce, "pkce": verifier,
                       "next": next_path, "at": int(time.time()), "reauth": reauth}
    return str(url)


@dataclass(frozen=True)
class Completed:
    """A finished flow: who, where to go on, and whether it was a re-authentication."""

    identity: SsoIdentity
    next_path: str
    reauth: bool


def pending_next(store: Mapping[str, Any]) -> str | None:
    flow = store.get(FLOW_KEY)
    return flow.get("next") if isinstance(flow, dict) else None


def complete(connection_id: str, config: Mapping[str, object], redirect_uri: str,
             answer: Mapping[str, str], store: MutableMapping[str, Any]) -> Completed:
    """The identity the provider vouched for, and the page to go on to. Raises
    :class:`FlowRefused` (nothing to sign in) or :class:`IdpUnavailable`."""
    flow = store.pop(FLOW_KEY, None)  # spent, whatever happens next
    if not isinstance(flow, dict) or flow.get("cid") != connection_id:
        raise FlowRefused("no_flow", "This sign-in was not started in this browser, or it "
                          "was already used. Start again.")
    state = answer.get("state", "")
    if not isinstance(state, str) or not hmac.compare_digest(state, str(flow.get("state"))):
        raise FlowRefused("state", "This answer from the identity provider does not belong "
                          "to the sign-in started here (state mismatch). Start again.")
    if time.time() - int(flow.get("at", 0)) > FLOW_SECONDS:
        raise FlowRefused("expired", "The sign-in took too long. Start again.")
    if answer.get("error"):
        raise FlowRefused("idp_error", "The identity provider did not sign you in "
                          f"({str(answer.get('error'))[:100]}).")
    client = Client.from_config(config)
    if answer.get("iss") not in (None, client.issuer):  # RFC 9207: no mix-up of providers
        raise FlowRefused("iss_param", "This answer comes from another identity provider "
                          "than the one this sign-in went to. Start again.")
    code = answer.get("code")
    if not code or len(code) > 2000:
        raise FlowRefused("no_code", "The identity provider's answer has no code. Start again.")
    metadata = discover(client.issuer)
    token = _exchange(client, metadata, redirect_uri, code, str(flow.get("pkce")))
    claims = _id_token(client, metadata, token, str(flow.get("nonce")))
    reauth = flow.get("reauth") is True
    auth_time = claims.get("auth_time")
    if reauth and (not isinstance(auth_time, int | float)
                   or auth_time < int(flow.get("at", 0)) - LEEWAY):
        raise FlowRefused("auth_time", "The identity provider did not ask you to sign in "
                          "again, so this does not confirm it is you. Try again.")
    email, verified = claims.get("email"), claims.get("email_verified")
    if email is None and metadata.get("userinfo_endpoint"):
        info = _get(metadata["userinfo_endpoint"],
                    headers={"Authorization": f"Bearer {token['access_token']}"})
        if info.get("sub") != claims["sub"]:
            raise FlowRefused("userinfo_sub", "The identity provider's answers disagree on who "
                              "you are.")
        email, verified = info.get("email"), info.get("email_verified")
    if not isinstance(email, str) or not email:
        raise FlowRefused("no_email", "The identity provider did not tell us your email "
                          "address (the email scope).")
    if verified is not True:
        raise FlowRefused("email_unverified", "The identity provider has not verified your "
                          "email address, so it cannot sign you in here.")
    amr = claims.get("amr")
    methods = tuple(m for m in amr if isinstance(m, str)) if isinstance(amr, list) else ()
    identity = SsoIdentity(email=email, subject=str(claims["sub"]), issuer=client.issuer,
                           kind="oidc", amr=methods)
    return Completed(identity, str(flow.get("next") or "/"), reauth)


def _exchange(client: Client, metadata: Mapping[str, Any], redirect_uri: str, code: str,
              verifier: str) -> dict[str, Any]:
    try:
        with client.session(redirect_uri) as session:
            token = session.fetch_token(metadata["token_endpoint"], code=code,
                                        code_verifier=verifier, timeout=TIMEOUT)
    except OAuthError as refused:
        raise FlowRefused("token_refused", "The identity provider refused to complete the "
                          f"sign-in ({str(refused.error)[:100]}). Start again.") from None
    except AuthlibBaseError:  # an answer Authlib cannot read as a token (no token type, ...)
        raise IdpUnavailable("its token answer is not a token") from None
    except requests.RequestException as failure:
        raise IdpUnavailable(idp_http.no_answer(failure)) from None
    except ValueError:
        raise IdpUnavailable("its token answer is not JSON") from None
    if not isinstance(token.get("id_token"), str) or not token.get("access_token"):
        raise FlowRefused("no_id_token", "The identity provider sent no ID token.")
    return dict(token)


def _id_token(client: Client, metadata: Mapping[str, Any], token: Mapping[str, Any],
              nonce: str) -> CodeIDToken:
    try:
        keys = KeySet.import_key_set(_get(metadata["jwks_uri"]))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError, KeyError):
        raise IdpUnavailable("its key set (jwks_uri) cannot be read") from None
    offered = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = [a for a in ALGORITHMS if a in offered]
    try:
        decoded = jwt.decode(token["id_token"], keys,
                             registry=JWSRegistry(algorithms=algorithms))
    except (JoseError, ValueError):
        raise FlowRefused("id_token_signature", "The ID token's signature does not check "
                          "out against the identity provider's keys.") from None
    claims = CodeIDToken(
        decoded.claims, decoded.header,
        {"iss": {"essential": True, "value": client.issuer},
         "aud": {"essential": True, "value": client.client_id}},
        {"nonce": nonce, "client_id": client.client_id,
         "access_token": token["access_token"]},
    )
    try:
        claims.validate(now=int(time.time()), leeway=LEEWAY)
    except JoseError as wrong:
        claim = getattr(wrong, "claim", None) or type(wrong).__name__
        raise FlowRefused(f"id_token_{claim}", _CLAIM_WORDS.get(
            str(claim), "The ID token is not valid for this sign-in.")) from None
    return claims


_CLAIM_WORDS = {
    "iss": "The ID token comes from another identity provider (issuer mismatch).",
    "aud": "The ID token was issued to another application (audience mismatch).",
    "azp": "The ID token was issued to another application (authorized party mismatch).",
    "exp": "The ID token has expired. Start again; if it keeps happening, the identity "
           "provider's clock may be wrong.",
    "iat": "The ID token was issued in the future: the identity provider's clock is wrong.",
    "nonce": "The ID token does not belong to this sign-in (nonce mismatch). Start again.",
    "at_hash": "The ID token does not match its access token.",
}
