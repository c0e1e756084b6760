"""SAML 2.0 sign-in: the gateway as the service provider (SP) of an organization's identity
provider (IdP), through pysaml2; every XML signature is checked by xmlsec1 (Debian's
``xmlsec1``), nothing here parses or checks a signature by hand.

Decisions (docs/organizations.md says the same to owners):

- **One SP per connection.** Its entity id is the URL of its metadata,
  ``<PUBLIC_URL>/sso/saml/<connection id>/metadata``; its one Assertion Consumer Service is
  ``.../acs`` (HTTP-POST). So an assertion made for one organization's connection is refused by
  every other (audience, recipient and destination all name the connection).
- **AuthnRequests are not signed** (HTTP-Redirect binding, ``AuthnRequestsSigned="false"``) and
  the SP has no key: signing a request protects nothing the SP relies on (the IdP
  authenticates the person whatever asked), and no SP key means nothing to store, rotate or
  leak. Hence no encrypted assertions either: the assertion travels over the browser's TLS.
- **The assertion must be signed** by a key in the IdP's metadata (``WantAssertionsSigned``),
  with RSA or ECDSA over SHA-256 or stronger (SHA-1 and MD5 refused); a signed response
  around it is checked too when present, but is not enough alone: what the gateway reads is
  the assertion, so the assertion is what must be signed. Keys carried inside the message are
  never trusted (``only_use_keys_in_metadata``).
- **Exactly one assertion**, a direct child of the response, and no encrypted one: a response
  with a second (or moved) assertion is refused before pysaml2 reads it, whatever is signed.
  This closes XML signature wrapping whatever the library's own defences.
- **No IdP-initiated sign-in**: ``InResponseTo`` (of the response and of the bearer
  confirmation) must be the id of the request this browser was sent with; an unsolicited
  response is refused.
- ``NameID`` in the ``emailAddress`` format is the address; ``Destination`` and the bearer
  ``Recipient`` must be the connection's ACS, the ``Audience`` its entity id; ``NotBefore`` /
  ``NotOnOrAfter`` are checked with :data:`CLOCK_SKEW_SECONDS` of slack and must be present.
- **Replay**: an accepted assertion's id (with its issuer) is spent in ``used_tokens`` in the
  transaction of the sign-in, so the database decides between two racing posts; the row is
  kept until the assertion's ``NotOnOrAfter`` plus the skew (then pruned: the assertion is
  refused as expired by then).
"""

from __future__ import annotations

import base64
import binascii
import calendar
import functools
import hashlib
import importlib
import ipaddress
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cryptography.utils import CryptographyDeprecationWarning
from defusedxml import ElementTree as SafeElementTree
from sqlalchemy.exc import IntegrityError

from gateway.db import db
from gateway.identity.addresses import canonical_email
from gateway.models import UsedToken, utcnow
from gateway.organizations.errors import Refused

if TYPE_CHECKING:
    from saml2.client import Saml2Client
    from saml2.config import SPConfig
    from saml2.response import AuthnResponse

#: Slack for the IdP's clock against ours, both ways.
CLOCK_SKEW_SECONDS = 60
#: Bounds on what is read at all (base64 of a response; metadata XML).
MAX_RESPONSE_CHARS = 256 * 1024
MAX_METADATA_BYTES = 512 * 1024

BINDING_HTTP_POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
BINDING_HTTP_REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
NAMEID_EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
_BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
_PROTOCOL = "urn:oasis:names:tc:SAML:2.0:protocol"
_ASSERTION = "urn:oasis:names:tc:SAML:2.0:assertion"
_DSIG = "http://www.w3.org/2000/09/xmldsig#"
_MORE = "http://www.w3.org/2001/04/xmldsig-more#"
SIGNATURE_ALGORITHMS = frozenset({
    _MORE + "rsa-sha256", _MORE + "rsa-sha384", _MORE + "rsa-sha512",
    _MORE + "ecdsa-sha256", _MORE + "ecdsa-sha384", _MORE + "ecdsa-sha512",
})
DIGEST_ALGORITHMS = frozenset({
    "http://www.w3.org/2001/04/xmlenc#sha256", _MORE + "sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
})
#: AuthnContextClassRef -> RFC 8176 ``amr`` values (what the products are told).
_AMR = {
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Password": ("pwd",),
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport": ("pwd",),
    "urn:oasis:names:tc:SAML:2.0:ac:classes:X509": ("sc",),
    "urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard": ("sc",),
    "urn:oasis:names:tc:SAML:2.0:ac:classes:SmartcardPKI": ("sc",),
    "urn:oasis:names:tc:SAML:2.0:ac:classes:TimeSyncToken": ("otp",),
    "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract": ("mfa",),
    "http://schemas.microsoft.com/claims/multipleauthn": ("mfa",),
    "https://refeds.org/profile/mfa": ("mfa",),
}


class SamlRefused(Refused):
    """The IdP's answer is not accepted; ``message`` says why in words a person may read (it
    names the check, never the content of the message), ``reason`` for the audit row."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class InvalidMetadata(Refused):
    """What an owner gave as the IdP's metadata is not usable; ``message`` says why."""


@dataclass(frozen=True)
class ServiceProvider:
    """The gateway as the SP of one connection."""

    entity_id: str
    acs_url: str

    @property
    def metadata_url(self) -> str:
        return self.entity_id


def service_provider(public_url: str, connection_id: str) -> ServiceProvider:
    base = f"{public_url.rstrip('/')}/sso/saml/{connection_id}"
    return ServiceProvider(entity_id=f"{base}/metadata", acs_url=f"{base}/acs")


@dataclass(frozen=True)
class IdentityProvider:
    """An IdP as its metadata describes it (the metadata is what is stored)."""

    entity_id: str
    sso_url: str
    metadata: str


@dataclass(frozen=True)
class AuthnRequest:
    #: Where to send the browser (the IdP's SSO endpoint, the request in the query).
    url: str
    #: The request's id: kept by the browser's session, the response must answer it.
    request_id: str


@dataclass(frozen=True)
class SamlAssertion:
    """What a verified assertion says."""

    email: str
    name_id: str
    issuer: str
    assertion_id: str
    session_index: str | None
    authn_context: str | None
    #: When the IdP authenticated the person (AuthnInstant), Unix time.
    authn_instant: int | None = None
    #: The Conditions' NotOnOrAfter, Unix time: the id is kept against replay until then
    #: plus CLOCK_SKEW_SECONDS (after that the assertion is refused as expired anyway).
    not_on_or_after: int | None = None

    @property
    def amr(self) -> tuple[str, ...]:
        return _AMR.get(self.authn_context or "", ())


#: The pysaml2 modules used here, imported by :func:`_load_pysaml2`.
_PYSAML2_MODULES = ("saml2.client", "saml2.config", "saml2.metadata", "saml2.response",
                    "saml2.sigver", "saml2.time_util", "saml2.validate")


@functools.cache
def _load_pysaml2() -> None:
    """Import pysaml2 on the first SAML work, once: it takes about 0.6 s (its XML schema
    classes), which every gateway process would pay at start, most of them never doing SAML.
    The functions below call this first, then import what they use from the loaded modules."""
    with warnings.catch_warnings():
        # pysaml2 7.5 names a cipher mode cryptography has moved (it never uses it here).
        warnings.filterwarnings("ignore", "CFB has been moved", CryptographyDeprecationWarning)
        for module in _PYSAML2_MODULES:
            importlib.import_module(module)


@functools.cache
def _xmlsec_binary() -> str:
    _load_pysaml2()
    from saml2.sigver import get_xmlsec_binary

    return str(get_xmlsec_binary())


def _config(sp: ServiceProvider, idp_metadata: str | None) -> SPConfig:
    _load_pysaml2()
    from saml2.config import SPConfig

    settings: dict[str, Any] = {
        "entityid": sp.entity_id,
        "xmlsec_binary": _xmlsec_binary(),
        "accepted_time_diff": CLOCK_SKEW_SECONDS,
        "only_use_keys_in_metadata": True,
        "allow_unknown_attributes": True,
        "service": {"sp": {
            "endpoints": {"assertion_consumer_service": [(sp.acs_url, BINDING_HTTP_POST)]},
            "authn_requests_signed": False,
            "want_assertions_signed": True,
            "want_response_signed": False,
            "allow_unsolicited": False,
            "name_id_format": [NAMEID_EMAIL],
            "name_id_format_allow_create": False,
        }},
    }
    if idp_metadata is not None:
        settings["metadata"] = {"inline": [idp_metadata]}
    config = SPConfig()
    config.load(settings)
    return config


def sp_metadata(sp: ServiceProvider) -> bytes:
    """The SP's metadata for the IdP's administrator (unsigned: the SP has no key)."""
    _load_pysaml2()
    from saml2.metadata import entity_descriptor

    descriptor = entity_descriptor(_config(sp, None))
    # pysaml2 lists every algorithm xmlsec1 knows (MD5 and SHA-1 too); the gateway accepts
    # fewer (SIGNATURE_ALGORITHMS), so it advertises none rather than the wrong ones.
    descriptor.extensions = None
    descriptor.spsso_descriptor.want_assertions_signed = "true"
    return descriptor.to_string()


def _allowed_url(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    if parts.scheme != "http" or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


def read_idp_metadata(document: str | bytes) -> IdentityProvider:
    """The IdP the metadata describes: exactly one IdP entity, an HTTP-Redirect single
    sign-on endpoint (https, or http on loopback), at least one signing certificate."""
    if isinstance(document, bytes):
        try:
            document = document.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidMetadata("The metadata is not UTF-8 text.") from None
    if not isinstance(document, str) or not document.strip():
        raise InvalidMetadata("Paste the identity provider's SAML metadata (XML).")
    if len(document.encode()) > MAX_METADATA_BYTES:
        raise InvalidMetadata("The metadata is larger than 512 KiB.")
    try:
        SafeElementTree.fromstring(document.encode())
        store = _config(service_provider("https://sp.invalid", "0"), document).metadata
        idps = list(store.with_descriptor("idpsso"))
    except Exception:  # pysaml2 and the XML parser raise many kinds; all mean "not usable"
        raise InvalidMetadata("This is not SAML 2.0 metadata the gateway can read.") from None
    if len(idps) != 1:
        raise InvalidMetadata("The metadata must describe exactly one identity provider.")
    entity_id = str(idps[0])
    endpoints = store.single_sign_on_service(entity_id, BINDING_HTTP_REDIRECT) or []
    locations = [e.get("location") for e in endpoints if isinstance(e.get("location"), str)]
    if not locations:
        raise InvalidMetadata(
            "The identity provider has no single sign-on endpoint for the HTTP-Redirect binding.")
    if not _allowed_url(locations[0]):
        raise InvalidMetadata("The single sign-on endpoint must be an https:// URL.")
    if not store.certs(entity_id, "idpsso", "signing"):
        raise InvalidMetadata("The metadata has no signing certificate for the identity provider.")
    return IdentityProvider(entity_id=entity_id, sso_url=locations[0], metadata=document)


def _client(sp: ServiceProvider, idp: IdentityProvider) -> Saml2Client:
    _load_pysaml2()
    from saml2.client import Saml2Client

    return Saml2Client(config=_config(sp, idp.metadata))


def authn_request(sp: ServiceProvider, idp: IdentityProvider, relay_state: str = "", *,
                  force_authn: bool = False) -> AuthnRequest:
    """An unsigned AuthnRequest asking for an emailAddress NameID, as a redirect URL;
    ``force_authn``: the IdP must authenticate the person again (``ForceAuthn="true"``)."""
    request_id, info = _client(sp, idp).prepare_for_authenticate(
        entityid=idp.entity_id, relay_state=relay_state, binding=BINDING_HTTP_REDIRECT,
        nameid_format=NAMEID_EMAIL, sign=False, force_authn="true" if force_authn else None)
    location = dict(info["headers"])["Location"]
    return AuthnRequest(url=str(location), request_id=str(request_id))


def _decoded(saml_response: object) -> bytes:
    if not isinstance(saml_response, str) or not saml_response:
        raise SamlRefused("saml_missing", "The identity provider's answer is missing.")
    if len(saml_response) > MAX_RESPONSE_CHARS:
        raise SamlRefused("saml_too_large", "The identity provider's answer is too large.")
    try:
        return base64.b64decode("".join(saml_response.split()), validate=True)
    except (binascii.Error, ValueError):
        raise SamlRefused("saml_malformed",
                          "The identity provider's answer is not a SAML response.") from None


def _check_shape(document: bytes, sp: ServiceProvider) -> None:
    """Refuse any shape but a Response to our ACS with one plain Assertion as its direct
    child (XSW). Only ever refuses: what it reads is not trusted yet."""
    try:
        root = SafeElementTree.fromstring(document)
    except Exception:  # defusedxml refuses DTDs and entities; a parse error is the same answer
        raise SamlRefused("saml_malformed",
                          "The identity provider's answer is not a SAML response.") from None
    if root.tag != f"{{{_PROTOCOL}}}Response":
        raise SamlRefused("saml_malformed",
                          "The identity provider's answer is not a SAML response.")
    if root.get("Destination") != sp.acs_url:
        raise SamlRefused("saml_destination", "The response was sent to another address.")
    assertions = list(root.iter(f"{{{_ASSERTION}}}Assertion"))
    encrypted = list(root.iter(f"{{{_ASSERTION}}}EncryptedAssertion"))
    children = list(root.findall(f"{{{_ASSERTION}}}Assertion"))
    if len(assertions) != 1 or len(children) != 1 or encrypted:
        raise SamlRefused("saml_assertion_count", "The response must carry exactly one assertion.")


def _signature_strong(assertion: Any) -> bool:
    signature = assertion.signature
    if signature is None or signature.signed_info is None:
        return False
    info = signature.signed_info
    method = info.signature_method.algorithm if info.signature_method is not None else None
    digests = [ref.digest_method.algorithm if ref.digest_method is not None else None
               for ref in info.reference]
    return (method in SIGNATURE_ALGORITHMS and bool(digests)
            and all(d in DIGEST_ALGORITHMS for d in digests))


def _parsed(sp: ServiceProvider, idp: IdentityProvider, saml_response: str, request_id: str
            ) -> AuthnResponse:
    _load_pysaml2()
    from saml2.response import AuthnResponse, StatusError, UnsolicitedResponse
    from saml2.sigver import SignatureError
    from saml2.validate import ResponseLifetimeExceed, ToEarly

    client = _client(sp, idp)
    try:
        answer = client.parse_authn_request_response(
            saml_response, BINDING_HTTP_POST, outstanding={request_id: ""})
    except SignatureError:
        raise SamlRefused("saml_signature",
                          "The assertion is not signed by the identity provider.") from None
    except UnsolicitedResponse:
        raise SamlRefused("saml_in_response_to",
                          "The response does not answer this sign-in.") from None
    except ResponseLifetimeExceed:
        raise SamlRefused("saml_expired", "The assertion has expired.") from None
    except ToEarly:
        raise SamlRefused("saml_not_yet_valid", "The assertion is not valid yet.") from None
    except StatusError:
        raise SamlRefused("saml_idp_status",
                          "The identity provider did not sign the person in.") from None
    except Exception as exc:  # pysaml2 raises bare Exceptions too (audience, conditions...)
        raise _refusal_of(exc) from None
    if not isinstance(answer, AuthnResponse) or answer.assertion is None:
        raise SamlRefused("saml_rejected", "The identity provider's answer was not accepted.")
    return answer


#: What pysaml2's untyped refusals mean, by the start of their message.
_REASONS = (
    ("AudienceRestrictions", "saml_audience", "The assertion is meant for another service."),
    ("Combination of session id", "saml_in_response_to",
     "The response does not answer this sign-in."),
    ("No valid recipient", "saml_recipient", "The assertion is not confirmed for this sign-in."),
    ("No valid subject confirmation", "saml_recipient",
     "The assertion is not confirmed for this sign-in."),
    ("Condition not OK", "saml_validity", "The assertion's validity period is not valid."),
)


def _refusal_of(exc: Exception) -> SamlRefused:
    message = str(exc)
    for start, reason, words in _REASONS:
        if message.startswith(start):
            return SamlRefused(reason, words)
    return SamlRefused("saml_rejected", "The identity provider's answer was not accepted.")


def _text(element: Any) -> str | None:
    return None if element is None or element.text is None else str(element.text).strip()


def _audiences_ok(conditions: Any, entity_id: str) -> bool:
    restrictions = list(conditions.audience_restriction or [])
    # Every AudienceRestriction must name us (SAML core 2.5.1.4), and there must be one.
    return bool(restrictions) and all(
        any(_text(a) == entity_id for a in (r.audience or [])) for r in restrictions)


def _bearer_ok(subject: Any, sp: ServiceProvider, request_id: str) -> bool:
    for confirmation in subject.subject_confirmation or []:
        data = confirmation.subject_confirmation_data
        if (confirmation.method == _BEARER and data is not None
                and data.recipient == sp.acs_url and data.in_response_to == request_id
                and data.not_on_or_after):
            return True
    return False


def verify_response(sp: ServiceProvider, idp: IdentityProvider, saml_response: object,
                    request_id: str) -> SamlAssertion:
    """Check an HTTP-POST ``SAMLResponse`` (base64) answering ``request_id``; raises
    :class:`SamlRefused` for anything not accepted. Reads the database not at all: replay is
    :func:`spend`'s (and :func:`consume` does both)."""
    document = _decoded(saml_response)
    _check_shape(document, sp)
    answer = _parsed(sp, idp, str(saml_response), request_id)
    response, assertion = answer.response, answer.assertion
    if response.destination != sp.acs_url:
        raise SamlRefused("saml_destination", "The response was sent to another address.")
    if response.in_response_to != request_id:
        raise SamlRefused("saml_in_response_to", "The response does not answer this sign-in.")
    response_issuer = _text(response.issuer)
    if response_issuer is not None and response_issuer != idp.entity_id:
        raise SamlRefused("saml_issuer", "The response comes from another identity provider.")
    if _text(assertion.issuer) != idp.entity_id:
        raise SamlRefused("saml_issuer", "The assertion comes from another identity provider.")
    if not _signature_strong(assertion):
        raise SamlRefused("saml_weak_signature",
                          "The assertion is signed with a weak or unknown algorithm.")
    conditions = assertion.conditions
    if conditions is None or not conditions.not_on_or_after:
        raise SamlRefused("saml_no_validity", "The assertion has no validity period.")
    if not _audiences_ok(conditions, sp.entity_id):
        raise SamlRefused("saml_audience", "The assertion is meant for another service.")
    if assertion.subject is None or not _bearer_ok(assertion.subject, sp, request_id):
        raise SamlRefused("saml_recipient", "The assertion is not confirmed for this sign-in.")
    name_id = assertion.subject.name_id
    if name_id is None or name_id.format != NAMEID_EMAIL:
        raise SamlRefused("saml_name_id_format",
                          "The identity provider must send the email address as NameID "
                          "(format emailAddress).")
    email = canonical_email(_text(name_id))
    if email is None:
        raise SamlRefused("saml_name_id", "The NameID is not an email address.")
    statement = assertion.authn_statement[0] if assertion.authn_statement else None
    context = statement.authn_context if statement is not None else None
    return SamlAssertion(
        email=email,
        name_id=str(_text(name_id)),
        issuer=idp.entity_id,
        assertion_id=str(assertion.id),
        session_index=statement.session_index if statement is not None else None,
        authn_context=_text(context.authn_context_class_ref) if context is not None else None,
        authn_instant=_unix_time(statement.authn_instant if statement is not None else None),
        not_on_or_after=_unix_time(conditions.not_on_or_after),
    )


def _unix_time(value: object) -> int | None:
    _load_pysaml2()
    from saml2.time_util import str_to_time

    try:
        return calendar.timegm(str_to_time(str(value))) if value else None
    except (ValueError, TypeError):
        return None


def _replay_key(assertion: SamlAssertion) -> str:
    material = f"saml-assertion\0{assertion.issuer}\0{assertion.assertion_id}".encode()
    return hashlib.sha256(material).hexdigest()


def _replay_kept_until(assertion: SamlAssertion) -> datetime:
    """Until when the assertion's id must stay spent: its NotOnOrAfter plus the skew
    (a day from now if it could not be read, which verification does not let through)."""
    if assertion.not_on_or_after is None:
        return utcnow() + timedelta(days=1)
    return datetime.fromtimestamp(assertion.not_on_or_after + CLOCK_SKEW_SECONDS, UTC)


def spend(assertion: SamlAssertion) -> None:
    """Mark the assertion used, in the caller's transaction, before its other writes; raises
    :class:`SamlRefused` (and rolls the transaction back) when it was used already."""
    session = db()
    try:
        with session.begin_nested():
            session.add(UsedToken(token_id=_replay_key(assertion),
                                  expires_at=_replay_kept_until(assertion)))
    except IntegrityError:
        session.rollback()
        raise SamlRefused("saml_replay", "This assertion was used already.") from None


def consume(sp: ServiceProvider, idp: IdentityProvider, saml_response: object,
            request_id: str) -> SamlAssertion:
    """:func:`verify_response`, then :func:`spend`: the assertion, accepted once."""
    assertion = verify_response(sp, idp, saml_response, request_id)
    spend(assertion)
    return assertion
