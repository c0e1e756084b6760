"""The SAML service provider (gateway.organizations.sso.saml) against a real IdP on loopback
(pysaml2's IdP side, tests/support/saml_idp.py): the browser's two hops are real HTTP (the
redirect to the IdP, the IdP's auto-posting form); what the form would post is handed to the
SP's ``consume``. Each refusal case is something an IdP, broken or hostile, really sends;
the sign-in through the gateway's routes is test_saml_signin.py."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests
from flask import Flask
from sqlalchemy import func, select

from gateway.db import db
from gateway.models import UsedToken
from gateway.organizations.sso import saml
from tests.support.saml_idp import SHA1, Misbehaviour, SamlIdp, form_action, form_fields, saml_idp

PUBLIC_URL = "http://127.0.0.1:5000"


@pytest.fixture
def idp(tmp_path: Path) -> Iterator[SamlIdp]:
    with saml_idp(tmp_path) as served:
        yield served


@pytest.fixture
def sp(idp: SamlIdp) -> saml.ServiceProvider:
    provider = saml.service_provider(PUBLIC_URL, "c0ffee")
    idp.trust(saml.sp_metadata(provider))
    return provider


@pytest.fixture
def trusted(idp: SamlIdp) -> saml.IdentityProvider:
    return saml.read_idp_metadata(idp.metadata)


def sign_in_at_idp(sp: saml.ServiceProvider, trusted: saml.IdentityProvider
                   ) -> tuple[str, str]:
    """The browser's trip: redirected to the IdP, back with its form. (request id, SAMLResponse)."""
    request = saml.authn_request(sp, trusted)
    page = requests.get(request.url, timeout=10)
    assert page.status_code == 200, page.text
    assert form_action(page.text) == sp.acs_url
    return request.request_id, form_fields(page.text)["SAMLResponse"]


def xml_of(saml_response: str) -> str:
    return base64.b64decode(saml_response).decode()


def encoded(xml: str) -> str:
    return base64.b64encode(xml.encode()).decode()


def used_count(app: Flask) -> int:
    with app.app_context():
        return int(db().scalar(select(func.count()).select_from(UsedToken)) or 0)


def refused(app: Flask, sp: saml.ServiceProvider, trusted: saml.IdentityProvider,
            saml_response: str, request_id: str) -> str:
    """Consume and expect a refusal; nothing is spent. Returns the reason."""
    before = used_count(app)
    with app.app_context():
        with pytest.raises(saml.SamlRefused) as refusal:
            saml.consume(sp, trusted, saml_response, request_id)
        db().commit()
    assert used_count(app) == before
    return refusal.value.message


def test_sp_metadata_names_the_connection_and_asks_for_signed_assertions(
        sp: saml.ServiceProvider) -> None:
    document = saml.sp_metadata(sp).decode()
    assert f'entityID="{PUBLIC_URL}/sso/saml/c0ffee/metadata"' in document
    assert f'Location="{PUBLIC_URL}/sso/saml/c0ffee/acs"' in document
    assert 'WantAssertionsSigned="true"' in document
    assert 'AuthnRequestsSigned="false"' in document
    assert "emailAddress" in document
    assert "rsa-sha1" not in document and "md5" not in document


def test_a_signed_assertion_from_the_idp_signs_the_person_in_once(
        app: Flask, idp: SamlIdp, sp: saml.ServiceProvider,
        trusted: saml.IdentityProvider) -> None:
    request_id, answer = sign_in_at_idp(sp, trusted)
    assert idp.requests == [request_id]
    with app.app_context():
        assertion = saml.consume(sp, trusted, answer, request_id)
        db().commit()
    assert assertion.email == "ada@acme.test"
    assert assertion.issuer == idp.entity_id
    assert assertion.amr == ("pwd",)
    assert used_count(app) == 1
    # The same response posted again (a replay: stolen from a log, the back button).
    assert refused(app, sp, trusted, answer, request_id) == "This assertion was used already."


def test_the_address_is_normalised(app: Flask, idp: SamlIdp, sp: saml.ServiceProvider,
                                   trusted: saml.IdentityProvider) -> None:
    idp.person = "Ada.Lovelace@ACME.test"
    request_id, answer = sign_in_at_idp(sp, trusted)
    with app.app_context():
        assert saml.consume(sp, trusted, answer, request_id).email == "ada.lovelace@acme.test"


REFUSALS = {
    "unsigned assertion": (Misbehaviour(sign_assertion=False), "not signed"),
    # A signed response around an unsigned assertion is not enough: the assertion is read.
    "only the response signed": (Misbehaviour(sign_assertion=False, sign_response=True),
                                 "not signed"),
    "signed by another key": (Misbehaviour(impostor=True), "not signed"),
    "signed with SHA-1": (Misbehaviour(algorithms=SHA1), "weak"),
    "expired": (Misbehaviour(valid_from=timedelta(minutes=-20),
                             valid_until=timedelta(minutes=-10)), "expired"),
    "not valid yet": (Misbehaviour(valid_from=timedelta(minutes=10),
                                   valid_until=timedelta(minutes=20)), "not valid yet"),
    "for another service (audience)": (
        Misbehaviour(audience="https://other.example/sso/saml/x/metadata"), "another service"),
    "sent to another address (destination)": (
        Misbehaviour(destination="https://other.example/sso/saml/x/acs"), "another address"),
    "confirmed for another recipient": (
        Misbehaviour(recipient="https://other.example/sso/saml/x/acs"), "not confirmed"),
    "NameID not an email address format": (
        Misbehaviour(name_id_format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"),
        "emailAddress"),
}


@pytest.mark.parametrize("misbehaviour, reason", REFUSALS.values(), ids=REFUSALS.keys())
def test_a_wrong_answer_from_the_idp_is_refused(
        app: Flask, idp: SamlIdp, sp: saml.ServiceProvider, trusted: saml.IdentityProvider,
        misbehaviour: Misbehaviour, reason: str) -> None:
    idp.misbehave = misbehaviour
    request_id, answer = sign_in_at_idp(sp, trusted)
    assert reason in refused(app, sp, trusted, answer, request_id)


def test_an_answer_to_another_request_or_none_is_refused(
        app: Flask, idp: SamlIdp, sp: saml.ServiceProvider,
        trusted: saml.IdentityProvider) -> None:
    """IdP-initiated (unsolicited) sign-in is refused: the answer must be to this browser's
    request (another browser's response, posted here, is refused too)."""
    _theirs, answer = sign_in_at_idp(sp, trusted)
    mine = saml.authn_request(sp, trusted).request_id
    assert "does not answer" in refused(app, sp, trusted, answer, mine)


def test_an_assertion_for_another_connection_is_refused(
        app: Flask, idp: SamlIdp, sp: saml.ServiceProvider,
        trusted: saml.IdentityProvider) -> None:
    """Two organizations trusting the same IdP: one's assertion does not open the other."""
    other = saml.service_provider(PUBLIC_URL, "beef")
    idp.trust(saml.sp_metadata(other))
    request_id, answer = sign_in_at_idp(other, trusted)
    assert refused(app, sp, trusted, answer, request_id)


def _signed_assertion(xml: str) -> str:
    match = re.search(r"<ns1:Assertion .*?</ns1:Assertion>", xml, re.S)
    assert match, xml
    return match.group(0)


def _forged(signed: str, email: str) -> str:
    """The signed assertion with its signature cut out, its address and id changed."""
    unsigned = re.sub(r"<ns2:Signature .*?</ns2:Signature>", "", signed, flags=re.S)
    unsigned = re.sub(r'ID="[^"]+"', 'ID="id-forged"', unsigned, count=1)
    return re.sub(r">[^<]+@[^<]+</ns1:NameID>", f">{email}</ns1:NameID>", unsigned)


def xsw_before(xml: str) -> str:
    """XSW: a forged assertion placed before the signed one (a reader taking the first)."""
    signed = _signed_assertion(xml)
    return xml.replace(signed, _forged(signed, "mallory@acme.test") + signed)


def xsw_after(xml: str) -> str:
    """XSW: the forged assertion after the signed one (a reader taking the last)."""
    signed = _signed_assertion(xml)
    return xml.replace(signed, signed + _forged(signed, "mallory@acme.test"))


def xsw_wrapped_in_forged(xml: str) -> str:
    """XSW: the signed assertion moved inside the forged one's Advice (its signature still
    verifies by id); the forged one is the response's only direct assertion."""
    signed = _signed_assertion(xml)
    forged = _forged(signed, "mallory@acme.test")
    forged = forged.replace("</ns1:Conditions>",
                            f"</ns1:Conditions><ns1:Advice>{signed}</ns1:Advice>", 1)
    return xml.replace(signed, forged)


def xsw_signed_in_extensions(xml: str) -> str:
    """XSW: the signed assertion hidden in the response's Extensions, a forged one in its
    place."""
    signed = _signed_assertion(xml)
    forged = _forged(signed, "mallory@acme.test")
    body = xml.replace(signed, forged)
    return body.replace("<ns0:Status>", f"<ns0:Extensions>{signed}</ns0:Extensions><ns0:Status>",
                        1)


def substituted_address(xml: str) -> str:
    """No wrapping: only the address inside the signed assertion changed."""
    return xml.replace(">ada@acme.test</ns1:NameID>", ">mallory@acme.test</ns1:NameID>")


TAMPERING = {f.__name__: f for f in (xsw_before, xsw_after, xsw_wrapped_in_forged,
                                     xsw_signed_in_extensions, substituted_address)}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=TAMPERING.keys())
@pytest.mark.parametrize("sign_response", [False, True], ids=["assertion-signed",
                                                              "both-signed"])
def test_a_tampered_response_is_refused(
        app: Flask, idp: SamlIdp, sp: saml.ServiceProvider, trusted: saml.IdentityProvider,
        tamper, sign_response: bool) -> None:  # type: ignore[no-untyped-def]
    idp.misbehave = Misbehaviour(sign_response=sign_response)
    request_id, answer = sign_in_at_idp(sp, trusted)
    forged = tamper(xml_of(answer))
    assert forged != xml_of(answer)
    assert refused(app, sp, trusted, encoded(forged), request_id)
    # The untouched answer was fine: the refusal is the tampering's.
    with app.app_context():
        assert saml.consume(sp, trusted, answer, request_id).email == "ada@acme.test"


GARBAGE = {
    "missing": None,
    "empty": "",
    "not base64": "%%%not-base64%%%",
    "base64 of text": encoded("hello"),
    "a billion laughs": encoded('<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                                '<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
                                '<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:'
                                'protocol">&lol2;</samlp:Response>'),
    "an AuthnRequest instead": encoded('<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:'
                                       'SAML:2.0:protocol" ID="x" Version="2.0"/>'),
    "huge": "A" * (saml.MAX_RESPONSE_CHARS + 4),
    "not a string": ["x"],
}


@pytest.mark.parametrize("value", GARBAGE.values(), ids=GARBAGE.keys())
def test_garbage_is_refused_in_words(app: Flask, sp: saml.ServiceProvider,
                                     trusted: saml.IdentityProvider, value: object) -> None:
    with app.app_context():
        with pytest.raises(saml.SamlRefused) as refusal:
            saml.verify_response(sp, trusted, value, "id-whatever")
    assert refusal.value.message.startswith("The ")


METADATA_REFUSALS = {
    "empty": ("", "Paste"),
    "not xml": ("<<<", "not SAML 2.0 metadata"),
    "an SP's metadata": (None, "exactly one identity provider"),
}


def test_idp_metadata_is_read_and_bad_metadata_refused(idp: SamlIdp,
                                                       sp: saml.ServiceProvider) -> None:
    read = saml.read_idp_metadata(idp.metadata)
    assert (read.entity_id, read.sso_url) == (idp.entity_id, f"{idp.base_url}/sso")
    for name, (document, message) in METADATA_REFUSALS.items():
        if document is None:
            document = saml.sp_metadata(sp).decode()
        with pytest.raises(saml.InvalidMetadata) as refusal:
            saml.read_idp_metadata(document)
        assert message in refusal.value.message, name
    no_certificate = re.sub(r"<ns0:KeyDescriptor.*?</ns0:KeyDescriptor>", "", idp.metadata,
                            flags=re.S)
    with pytest.raises(saml.InvalidMetadata, match="signing certificate"):
        saml.read_idp_metadata(no_certificate)
    remote_http = idp.metadata.replace(idp.base_url, "http://idp.example")
    with pytest.raises(saml.InvalidMetadata, match="https"):
        saml.read_idp_metadata(remote_http)
