"""Refused single sign-on answers and wrong SCIM tokens need no sign-in, and each costs a
lookup (and, for single sign-on, an audit row): a client address past the sign-in's bound
(``IP_MAX_ATTEMPTS`` per ``IP_WINDOW_SECONDS``) gets a 429 with ``Retry-After`` and writes
nothing more; other addresses go on as before."""

from __future__ import annotations

from flask import Flask

from tests.organizations.sso.conftest import SsoOrg, connection_ids, events

BOUND = 30  # IP_MAX_ATTEMPTS as the tests' apps run it (the setting's default)
ATTACKER = {"REMOTE_ADDR": "192.0.2.66"}
SOMEONE_ELSE = {"REMOTE_ADDR": "198.51.100.7"}


def test_refused_sso_answers_are_throttled_per_address_and_stop_writing_audit_rows(
        app: Flask, sso_org: SsoOrg) -> None:
    [connection] = connection_ids(sso_org.owner, sso_org.org)
    callback = f"/sso/oidc/{connection}/callback?code=forged&state=forged"
    attacker = app.test_client()
    for _ in range(BOUND):
        assert attacker.get(callback, environ_base=ATTACKER).status_code == 400
    assert len(events(app, "sso_login_refused")) == BOUND

    over = attacker.get(callback, environ_base=ATTACKER)
    assert over.status_code == 429 and 0 < int(over.headers["Retry-After"]) <= 300
    assert "Traceback" not in over.text
    # The SAML ACS shares the bound: refused before anything is read.
    acs = attacker.post(f"/sso/saml/{connection}/acs", data={"SAMLResponse": "x"},
                        environ_base=ATTACKER)
    assert acs.status_code == 429 and acs.headers["Retry-After"]
    assert len(events(app, "sso_login_refused")) == BOUND

    other = app.test_client().get(callback, environ_base=SOMEONE_ELSE)
    assert other.status_code == 400
    assert len(events(app, "sso_login_refused")) == BOUND + 1


def test_wrong_scim_tokens_are_throttled_per_address(app: Flask, sso_org: SsoOrg) -> None:
    client = app.test_client()
    wrong = {"Authorization": "Bearer scim_guess"}
    for _ in range(BOUND):
        answer = client.get("/scim/v2/Users", headers=wrong, environ_base=ATTACKER)
        assert answer.status_code == 401
    over = client.get("/scim/v2/Users", headers=wrong, environ_base=ATTACKER)
    assert over.status_code == 429 and 0 < int(over.headers["Retry-After"]) <= 300
    assert over.mimetype == "application/scim+json" and over.json["status"] == "429"
    other = client.get("/scim/v2/Users", headers=wrong, environ_base=SOMEONE_ELSE)
    assert other.status_code == 401
