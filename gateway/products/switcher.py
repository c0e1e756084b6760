"""The Product Switcher: the Console, then every product of the table, each with its state in words.

The Console is "your account"; a product is "linked to your account" or "not linked yet" with
the call to action "Link your account" (the wording lives in ``STATE_TEXT``; each product's
template spells out the same words, and the browser suite checks the markup is identical). A
product without accounts of its own (``accounts = "none"``) is open to every signed-in person,
so it counts as linked: the same words, the same ``lnk`` state in the assertion.

On Console pages the gateway renders it (templates/_switcher.html) from the user's
``ProductLink`` rows. On product pages reached through the gateway the *product* renders it
(``product_stubs/kit/templates/kit/_switcher.html``) from the ``lnk`` claim of the signed
assertion (``gateway.assertion.sign_assertion``): the gateway streams product HTML untouched
(no buffering, no rewriting of bodies it cannot parse safely), and the product gets the state
signed, bound to the very request, from the one database query the proxy already makes.
A product link leads to the product's prefix; the proxy sends an unlinked person on to
``/link/<product>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, request, url_for
from flask_login import current_user
from sqlalchemy import select

from gateway.db import db
from gateway.models import ProductLink
from gateway.products.table import products

#: (css class, state in words, call to action) for the Console and for a linked/unlinked product.
STATE_TEXT = {
    "console": ("linked", "your account", ""),
    True: ("linked", "linked to your account", ""),
    False: ("not-linked", "not linked yet", "Link your account"),
}


@dataclass(frozen=True)
class SwitcherItem:
    key: str
    name: str
    url: str
    linked: bool
    current: bool

    @property
    def state(self) -> str:
        return STATE_TEXT["console" if self.key == "console" else self.linked][0]

    @property
    def state_text(self) -> str:
        return STATE_TEXT["console" if self.key == "console" else self.linked][1]

    @property
    def action(self) -> str:
        return STATE_TEXT["console" if self.key == "console" else self.linked][2]


def linked_products(user_id: str) -> set[str]:
    query = select(ProductLink.product).where(ProductLink.user_id == user_id)
    return set(db().scalars(query))


def switcher_items() -> list[SwitcherItem]:
    linked = linked_products(current_user.user.id) if current_user.is_authenticated else set()
    on_link_page = request.blueprint == "linking"
    items = [
        SwitcherItem("console", "Console", url_for("console.home"), True, not on_link_page)
    ]
    for product in products():
        current = on_link_page and (request.view_args or {}).get("name") == product.name
        items.append(
            SwitcherItem(
                product.name,
                product.title,
                product.prefix + "/",
                product.name in linked or not product.has_accounts,
                current,
            )
        )
    return items


def products_in_words(linked_only: bool = False) -> str:
    """"Segment and SendGrid" (with ``linked_only``, only products with accounts of their own)."""
    titles = [p.title for p in products() if p.has_accounts or not linked_only]
    if len(titles) < 2:
        return "".join(titles)
    return ", ".join(titles[:-1]) + " and " + titles[-1]


def init_app(app: Flask) -> None:
    app.jinja_env.globals["switcher_items"] = switcher_items
    app.jinja_env.globals["products_in_words"] = products_in_words
