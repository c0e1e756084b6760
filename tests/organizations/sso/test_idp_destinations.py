"""Server-side request forgery: an owner's identity provider URL (an OIDC issuer, a SAML
metadata URL) whose name resolves to a loopback, private, link-local or reserved address is
refused with a message on the page, no connection made and nothing stored (as deployed: the
tests' switch ``plain_http_identity_providers`` off)."""

from __future__ import annotations

import dataclasses
import socket
import threading
from collections.abc import Iterator

import pytest

from gateway.organizations.sso import idp_http
from tests.organizations.conftest import People
from tests.organizations.sso.conftest import add_oidc_connection
from tests.organizations.sso.test_saml_signin import add_saml_connection, connection_ids
from tests.organizations.test_domains import verified_org
from tests.support import switches
from tests.support.console import make_gateway_app
from tests.support.dns_zone import Zone


@dataclasses.dataclass
class Listener:
    """A loopback TCP port that counts the connections made to it."""

    port: int
    accepted: int = 0


@pytest.fixture
def listener() -> Iterator[Listener]:
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    seen = Listener(server.getsockname()[1])
    done = threading.Event()

    def accept() -> None:
        while not done.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            seen.accepted += 1
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield seen
    done.set()
    thread.join()
    server.close()


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "0.0.0.0",
                                     "224.0.0.1", "100.64.0.1", "::1", "fe80::1",
                                     "::ffff:127.0.0.1", "fc00::1", "2001:db8::1"])
def test_addresses_inside_networks_are_not_public(address: str) -> None:
    assert not idp_http.is_public(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::1111"])
def test_internet_addresses_are_public(address: str) -> None:
    assert idp_http.is_public(address)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::ffff:127.0.0.1]"])
def test_an_idp_url_on_a_loopback_name_is_refused_and_never_called(
        database_url: str, zone: Zone, listener: Listener, host: str) -> None:
    app = make_gateway_app(database_url, DNS_RESOLVER=zone.address, switches=dataclasses.replace(
        switches.GATEWAY, plain_http_identity_providers=False))
    people = People(app)
    owner = people("ann@example.com")
    org = verified_org(people, zone, owner)
    url = f"https://{host}:{listener.port}"

    answer = add_saml_connection(owner, org, idp_metadata_url=url + "/metadata")
    assert answer.status_code == 302
    assert "not a public address" in owner.client.get(answer.location).text

    answer = add_oidc_connection(owner, org, url)
    assert answer.status_code == 302
    assert "not a public address" in owner.client.get(answer.location).text

    assert connection_ids(app) == []
    assert listener.accepted == 0


def test_an_idp_url_on_a_private_address_is_refused(database_url: str, zone: Zone) -> None:
    app = make_gateway_app(database_url, DNS_RESOLVER=zone.address, switches=dataclasses.replace(
        switches.GATEWAY, plain_http_identity_providers=False))
    people = People(app)
    owner = people("ann@example.com")
    org = verified_org(people, zone, owner)
    for address in ("10.1.2.3", "169.254.169.254"):
        answer = add_saml_connection(owner, org, idp_metadata_url=f"https://{address}/metadata")
        assert f"{address} resolves to {address}, not a public address" in \
            owner.client.get(answer.location).text
    assert connection_ids(app) == []
