"""A real SAML 2.0 identity provider on loopback: pysaml2's IdP side (``saml2.server.Server``,
signing with xmlsec1) in a small WSGI app, with an RSA key and certificate the test makes.

``GET /sso?SAMLRequest=...`` (HTTP-Redirect) reads the service provider's request, signs
``person`` in and answers with the auto-posting form of the HTTP-POST binding, as an IdP
does after its own login page. ``GET /metadata`` serves its metadata.

What it issues is a real IdP's answer; ``misbehave`` makes the next answers wrong in one way
a broken or hostile IdP would be (unsigned, signed by an impostor's key, expired, for another
audience or address, SHA-1), each still produced and signed by pysaml2 and xmlsec1.
"""

from __future__ import annotations

import base64
import html
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.support import served

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", "CFB has been moved", CryptographyDeprecationWarning)
    import saml2
    from saml2 import BINDING_HTTP_REDIRECT, class_name
    from saml2.config import IdPConfig
    from saml2.mdstore import MetadataStore
    from saml2.metadata import create_metadata_string
    from saml2.saml import NAMEID_FORMAT_EMAILADDRESS, NameID
    from saml2.server import Server
    from saml2.sigver import get_xmlsec_binary, pre_signature_part, signed_instance_factory

SHA256 = ("http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
          "http://www.w3.org/2001/04/xmlenc#sha256")
SHA1 = ("http://www.w3.org/2000/09/xmldsig#rsa-sha1", "http://www.w3.org/2000/09/xmldsig#sha1")


@dataclass(frozen=True)
class Misbehaviour:
    """How the next answers differ from a correct one (the default is correct)."""

    sign_assertion: bool = True
    sign_response: bool = False
    #: Sign with a key the SP was never given (same entity id, another key).
    impostor: bool = False
    algorithms: tuple[str, str] = SHA256
    #: Validity as offsets from now (an expired assertion: both in the past).
    valid_from: timedelta = timedelta(0)
    valid_until: timedelta = timedelta(minutes=5)
    audience: str | None = None
    destination: str | None = None
    recipient: str | None = None
    name_id_format: str = NAMEID_FORMAT_EMAILADDRESS
    #: When the IdP says it authenticated the person (AuthnInstant), from now: in the past,
    #: an IdP that did not ask again (a ForceAuthn ignored).
    authenticated_at: timedelta = timedelta(0)


def key_and_certificate(directory: Path, name: str) -> tuple[Path, Path]:
    """A fresh RSA-2048 key and self-signed certificate, as PEM files pysaml2 reads."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(days=1))
                   .not_valid_after(now + timedelta(days=30))
                   .sign(key, hashes.SHA256()))
    key_path, cert_path = directory / f"{name}.key", directory / f"{name}.crt"
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


def _server(entity_id: str, base_url: str, key: Path, cert: Path) -> Server:
    config = IdPConfig()
    config.load({
        "entityid": entity_id,
        "xmlsec_binary": get_xmlsec_binary(),
        "key_file": str(key),
        "cert_file": str(cert),
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(f"{base_url}/sso", BINDING_HTTP_REDIRECT)]},
            "name_id_format": [NAMEID_FORMAT_EMAILADDRESS],
            "policy": {"default": {"lifetime": {"minutes": 5}}},
        }},
    })
    return Server(config=config)


@dataclass
class SamlIdp:
    base_url: str
    entity_id: str
    server: Server
    impostor: Server
    #: Who is signed in at the IdP (the NameID it asserts).
    person: str = "ada@acme.test"
    misbehave: Misbehaviour = field(default_factory=Misbehaviour)
    #: The ids of the AuthnRequests it received, in order, and whether each asked that the
    #: person be authenticated again (ForceAuthn).
    requests: list[str] = field(default_factory=list)
    forced: list[bool] = field(default_factory=list)

    @property
    def metadata(self) -> str:
        return str(create_metadata_string(None, config=self.server.config, sign=False).decode())

    @property
    def metadata_url(self) -> str:
        return f"{self.base_url}/metadata"

    def trust(self, sp_metadata: bytes) -> None:
        """Register a service provider (its metadata names its ACS), as an IdP admin does."""
        for server in (self.server, self.impostor):
            if server.metadata is None:
                server.metadata = MetadataStore(server.config.attribute_converters,
                                                server.config)
                server.config.metadata = server.metadata
            server.metadata.load("inline", sp_metadata.decode())

    def answer(self, saml_request: str) -> tuple[str, str]:
        """(ACS URL, signed response XML) for a received HTTP-Redirect ``SAMLRequest``."""
        request = self.server.parse_authn_request(saml_request, BINDING_HTTP_REDIRECT).message
        self.requests.append(request.id)
        self.forced.append(str(request.force_authn).lower() == "true")
        return self.issue(request.id, request.assertion_consumer_service_url,
                          request.issuer.text)

    def issue(self, in_response_to: str, acs_url: str, sp_entity_id: str) -> tuple[str, str]:
        bad = self.misbehave
        server = self.impostor if bad.impostor else self.server
        now = datetime.now(UTC)
        stamp = "%Y-%m-%dT%H:%M:%SZ"
        response: Any = server.create_authn_response(
            {"mail": [self.person]}, in_response_to, acs_url, sp_entity_id,
            name_id=NameID(format=bad.name_id_format, text=self.person),
            authn={"class_ref": saml2.saml.AUTHN_PASSWORD_PROTECTED},
            sign_assertion=False, sign_response=False)
        assertion = response.assertion
        if isinstance(assertion, list):
            assertion = assertion[0]
        assertion.issue_instant = response.issue_instant = (now + bad.valid_from).strftime(stamp)
        assertion.conditions.not_before = (now + bad.valid_from).strftime(stamp)
        assertion.conditions.not_on_or_after = (now + bad.valid_until).strftime(stamp)
        for confirmation in assertion.subject.subject_confirmation:
            data = confirmation.subject_confirmation_data
            data.not_on_or_after = (now + bad.valid_until).strftime(stamp)
            if bad.recipient is not None:
                data.recipient = bad.recipient
        for statement in assertion.authn_statement:
            statement.authn_instant = (now + bad.authenticated_at).strftime(stamp)
        if bad.audience is not None:
            assertion.conditions.audience_restriction[0].audience[0].text = bad.audience
        if bad.destination is not None:
            response.destination = bad.destination
        to_sign = []
        sign_alg, digest_alg = bad.algorithms
        if bad.sign_assertion:
            assertion.signature = pre_signature_part(
                assertion.id, server.sec.my_cert, 2, sign_alg=sign_alg, digest_alg=digest_alg)
            to_sign.append((class_name(assertion), assertion.id))
        if bad.sign_response:
            response.signature = pre_signature_part(
                response.id, server.sec.my_cert, 1, sign_alg=sign_alg, digest_alg=digest_alg)
            to_sign.append((class_name(response), response.id))
        signed = signed_instance_factory(response, server.sec, to_sign)
        return acs_url, signed if isinstance(signed, str) else signed.to_string().decode()

    def wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/metadata":
            answer = Response(self.metadata, content_type="application/samlmetadata+xml")
        elif request.path == "/sso" and "SAMLRequest" in request.args:
            acs, xml = self.answer(request.args["SAMLRequest"])
            answer = Response(auto_post_form(acs, xml, request.args.get("RelayState")),
                              content_type="text/html; charset=utf-8")
        else:
            answer = Response("not found", status=404)
        return answer(environ, start_response)


def auto_post_form(acs: str, xml: str, relay_state: str | None) -> str:
    """The HTTP-POST binding's page: a form the browser posts to the SP at once."""
    encoded = base64.b64encode(xml.encode()).decode()
    fields = f'<input type="hidden" name="SAMLResponse" value="{encoded}">'
    if relay_state:
        fields += f'<input type="hidden" name="RelayState" value="{html.escape(relay_state)}">'
    return (f'<!doctype html><html><body onload="document.forms[0].submit()">'
            f'<form method="post" action="{html.escape(acs)}">{fields}'
            f'<noscript><button>Continue</button></noscript></form></body></html>')


def form_fields(page: str) -> dict[str, str]:
    """The hidden fields of an auto-posting form (what the browser would post)."""
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))


def form_action(page: str) -> str:
    match = re.search(r'<form method="post" action="([^"]+)">', page)
    assert match, page
    return html.unescape(match.group(1))


@contextmanager
def saml_idp(directory: Path, host: str = "127.0.0.1") -> Iterator[SamlIdp]:
    """The IdP on a free loopback port, in a thread of the test process; ``host`` is the
    name its URLs use (``localhost`` puts it on another site than a gateway at 127.0.0.1,
    as a real IdP is: a browser then sends no SameSite=Lax cookie with its form)."""
    holder: dict[str, SamlIdp] = {}
    server = make_server("127.0.0.1", 0, lambda e, s: holder["idp"].wsgi(e, s), threaded=True)
    base_url = f"http://{host}:{server.server_port}"
    entity_id = f"{base_url}/metadata"
    key, cert = key_and_certificate(directory, "idp")
    other_key, other_cert = key_and_certificate(directory, "impostor")
    idp = SamlIdp(base_url, entity_id, _server(entity_id, base_url, key, cert),
                  _server(entity_id, base_url, other_key, other_cert))
    holder["idp"] = idp
    served.start(server)
    try:
        yield idp
    finally:
        served.stop(server)

