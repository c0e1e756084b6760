"""A third product added by the products file alone, through the built-in proxy, nginx and Caddy.

Notes is the product kit run as a third linked product (tests/support/third_product.py); Team
Wiki a plain app (the echo product) listed with ``accounts = "none"``. Nothing in the gateway,
its templates or the edge templates names either: the file does (SPEC 28).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from gateway.assertion import RemoteJwks
from tests.support import people
from tests.support.echo import echo_app
from tests.support.edge import running_edge_stack
from tests.support.linked_person import PASSWORD, unique_email
from tests.support.product_servers import switcher_state
from tests.support.served import serving
from tests.support.stack import Stack, free_port, running_stack
from tests.support.third_product import products_file

PRODUCTS = ("segment", "sendgrid", "notes")


class _Late:
    """A WSGI app bound to its port before the issuer it must check is known."""

    app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


@contextmanager
def _wiki() -> Iterator[tuple[_Late, int]]:
    late = _Late()
    with serving(late) as server:
        yield late, server.server_port


@pytest.fixture(scope="module", params=["built-in proxy", "nginx", "caddy"])
def entry(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[tuple[str, Stack]]:
    """(public URL, stack): the gateway and four products behind the built-in proxy or an edge."""
    workdir = str(tmp_path_factory.mktemp("third-product"))
    file = products_file(workdir, notes="http://127.0.0.1:5003", wiki="http://127.0.0.1:5004")
    with _wiki() as (wiki, wiki_port):
        if request.param == "built-in proxy":
            with running_stack(workdir, products=PRODUCTS, PRODUCTS_FILE=file,
                               WIKI_UPSTREAM=f"http://127.0.0.1:{wiki_port}") as stack:
                jwks = RemoteJwks(stack.gateway_url + "/.well-known/jwks.json")
                wiki.app = echo_app("wiki", jwks, issuer=stack.gateway_url)
                yield stack.gateway_url, stack
            return
        port = free_port()
        public = f"http://127.0.0.1:{port}"
        wiki.app = echo_app("wiki", RemoteJwks(public + "/.well-known/jwks.json"), issuer=public)
        with running_edge_stack(request.param, workdir, port=port, products=PRODUCTS,
                                upstreams={"wiki": f"127.0.0.1:{wiki_port}"},
                                PRODUCTS_FILE=file) as edge:
            yield edge.url, edge.stack


def _signed_in(base: str, stack: Stack) -> tuple[requests.Session, str, str]:
    email = unique_email("third")
    console_id = people.create_console_user(stack, email, PASSWORD)
    session = people.browser()
    session.headers["Accept"] = "text/html"
    answer = people.submit(session, base + "/login", email=email, password=PASSWORD)
    assert answer.status_code == 302, answer.text[:300]
    return session, email, console_id


@pytest.mark.parametrize("prefix", ["/notes/", "/wiki/"])
def test_signed_out_people_are_sent_to_sign_in(entry: tuple[str, Stack], prefix: str) -> None:
    base, _ = entry
    browser = people.browser()
    browser.headers["Accept"] = "text/html"
    answer = browser.get(base + prefix + "page", allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/login?next=" + prefix.replace("/", "%2F"))


def test_linked_third_product_is_linked_then_entered_with_its_audience(
    entry: tuple[str, Stack]
) -> None:
    base, _stack = entry
    session, _email, _ = _signed_in(base, entry[1])
    first = session.get(base + "/notes/", allow_redirects=False, timeout=10)
    assert first.status_code == 302
    assert first.headers["Location"].startswith("/link/notes?next=")
    choose = session.get(base + "/link/notes", timeout=10).text
    assert "Create a new Notes user" in choose and "owner of\n         a new notebook" in choose
    assert switcher_state(choose)["notes"] == "not-linked"
    created = people.submit(session, base + "/link/notes/new", form_url=base + "/link/notes")
    assert created.status_code == 302, created.text[:300]
    # The kit verifies the assertion for audience "notes": a 200 is the proof.
    inside = session.get(base + "/notes/", allow_redirects=False, timeout=10)
    assert inside.status_code == 200, inside.text[:300]
    home = session.get(base + "/", timeout=10).text
    assert switcher_state(home) == {
        "console": "linked", "segment": "not-linked", "sendgrid": "not-linked",
        "notes": "linked", "wiki": "linked",
    }
    assert "Notes" in home and "Team Wiki" in home


def test_product_without_accounts_lets_every_signed_in_person_in(
    entry: tuple[str, Stack]
) -> None:
    base, stack = entry
    session, email, console_id = _signed_in(base, stack)
    answer = session.get(base + "/wiki/pages/start", allow_redirects=False, timeout=10)
    assert answer.status_code == 200, answer.text[:300]
    seen = answer.json()
    # Verified by the echo product for audience "wiki": the assertion alone says who.
    assert seen["identity"]["sub"] == console_id and seen["identity"]["email"] == email
    assert seen["identity"]["puid"] == console_id
    assert seen["path"] == "/pages/start"
    assert session.get(base + "/link/wiki", allow_redirects=False, timeout=10).status_code == 404


def test_email_change_reaches_the_third_product(entry: tuple[str, Stack]) -> None:
    base, stack = entry
    session, email, console_id = _signed_in(base, stack)
    notes_id = people.create_linked_product_user(stack, "notes", email, console_id)
    new = unique_email("moved")
    asked = people.submit(session, base + "/settings/email", email=new)
    assert asked.status_code in (200, 302), asked.text[:300]
    link = people.mailed_link(stack, new, "/settings/email/confirm")
    link = base + link[link.index("/settings/"):]
    confirmed = people.submit(session, link.split("?")[0], form_url=link,
                              token=link.split("token=", 1)[1])
    assert confirmed.status_code in (200, 302), confirmed.text[:300]
    assert people.product_email(stack, "notes", notes_id) == new
    assert people.console_email(stack, console_id) == new
