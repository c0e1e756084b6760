"""The assertion tells products a sign-in came through single sign-on: ``amr`` starts with
``fed`` and ``idp`` names the identity provider (the vendored verifier reads both)."""

from __future__ import annotations

import pytest

from gateway.assertion import AssertionVerifier, InvalidAssertion, StaticJwks
from gateway.organizations.sso.identity import SsoIdentity
from gateway.organizations.sso.signin import session_methods
from gateway.proxy.signing import assertion_from, session_claims, sign_assertion
from tests.support.keys import shared_store

ISSUER = "http://gateway.test"


def _verifier() -> AssertionVerifier:
    return AssertionVerifier("segment", ISSUER, StaticJwks(shared_store().jwks()))


def _sign(**extra: object) -> str:
    return sign_assertion(
        shared_store().signing_key(), issuer=ISSUER, product="segment", console_user_id="c1",
        email="ann@example.com", product_user_id="p1", session_id="s1",
        auth_methods=["fed", "mfa"], method="GET", path="/", **extra,  # type: ignore[arg-type]
    )


def test_the_idp_claim_reaches_the_product() -> None:
    identity = _verifier().verify(_sign(idp="https://idp.example.com"), method="GET", path="/")
    assert identity.idp == "https://idp.example.com"
    assert identity.auth_methods == ("fed", "mfa")
    assert _verifier().verify(_sign(), method="GET", path="/").idp is None


def test_a_malformed_idp_claim_is_refused() -> None:
    fixed = session_claims(issuer=ISSUER, product="segment", console_user_id="c1",
                           email="a@example.com", product_user_id="p1", session_id="s1",
                           auth_methods=["fed"])
    forged = fixed[:-1] + b',"idp":42}'
    token = assertion_from(forged, shared_store().signing_key(), method="GET", path="/",
                           lifetime=30)
    with pytest.raises(InvalidAssertion):
        _verifier().verify(token, method="GET", path="/")


@pytest.mark.parametrize(("reported", "methods"), [
    ((), ["fed"]),
    (("pwd", "mfa", "otp"), ["fed", "pwd", "mfa", "otp"]),
    (("urn:custom", "mfa", "mfa"), ["fed", "mfa"]),
    (tuple("pwd otp sms face fpt iris kba mca geo hwk swk tel user vbm wia".split()),
     ["fed", "pwd", "otp", "sms", "face", "fpt", "iris", "kba", "mca", "geo", "hwk", "swk",
      "tel", "user", "vbm"]),
], ids=["none", "registered", "unregistered-and-repeated", "bounded-to-the-column"])
def test_session_methods_keep_the_idps_registered_names(
    reported: tuple[str, ...], methods: list[str]
) -> None:
    identity = SsoIdentity("a@example.com", "sub", "https://idp", "oidc", reported)
    assert session_methods(identity) == methods
    assert len(",".join(session_methods(identity))) <= 64
