"""Every next/return value: only relative paths on the gateway or a product prefix (SPEC 14).

One rule: the gateway's validator and the products' vendored copy (products cannot import
gateway code) run against one corpus (tests/support/corpora.py), and the copy is checked to be
the same code; then the pages that take a ``next``.
"""

from __future__ import annotations

import ast
import inspect
from urllib.parse import quote

import pytest

from gateway.web import return_paths as gateway_rule
from product_stubs.kit import return_paths as vendored_rule
from product_stubs.kit.urls import safe_next
from tests.support.corpora import RETURN_PATHS_ACCEPTED, RETURN_PATHS_REFUSED

RULES = [gateway_rule.safe_return_path, vendored_rule.safe_return_path]
RULE_IDS = ["gateway", "kit"]


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
@pytest.mark.parametrize(("why", "value"), RETURN_PATHS_ACCEPTED,
                         ids=[w for w, _ in RETURN_PATHS_ACCEPTED])
def test_return_path_rule_accepts(rule, why, value):
    assert rule(value, default="/fallback") == value


@pytest.mark.parametrize("rule", RULES, ids=RULE_IDS)
@pytest.mark.parametrize(("why", "value"), RETURN_PATHS_REFUSED,
                         ids=[w for w, _ in RETURN_PATHS_REFUSED])
def test_return_path_rule_refuses(rule, why, value):
    assert rule(value, default="/fallback") == "/fallback"


@pytest.mark.parametrize(("why", "value"), RETURN_PATHS_REFUSED,
                         ids=[w for w, _ in RETURN_PATHS_REFUSED])
def test_products_next_refuses_the_same_corpus(why, value):
    assert safe_next(value) is None


@pytest.mark.parametrize("value", [None, 42, ["/"], {"a": "/"}], ids=repr)
def test_non_strings_fall_back(value):
    assert gateway_rule.safe_return_path(value, default="/d") == "/d"
    assert safe_next(value) is None


def _code(module):
    """The module's code without its docstrings: what must not drift between the copies."""
    tree = ast.parse(inspect.getsource(module))
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) and isinstance(
                body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def test_vendored_return_path_rule_is_the_gateways_code():
    assert _code(vendored_rule) == _code(gateway_rule)


def test_link_and_login_pages_never_send_elsewhere(person, products):
    person.sign_up_and_in("alice@example.com")
    person.link("segment", "alice@example.com", "segment-alice-pass", next="/segment/")
    for why, value in RETURN_PATHS_REFUSED:
        link = person.client.get("/link/segment?next=" + quote(value, safe=""))
        login = person.client.get("/login?next=" + quote(value, safe=""))
        assert (link.status_code, link.headers["Location"]) == (302, "/segment/"), why
        assert (login.status_code, login.headers["Location"]) == (302, "/"), why
    for why, value in RETURN_PATHS_ACCEPTED:
        if not value.isascii():  # sent percent-encoded in Location
            continue
        link = person.client.get("/link/segment?next=" + quote(value, safe=""))
        assert link.headers["Location"] == value, why
