"""The Product Switcher: Console, Segment, SendGrid, each marked linked or not linked.

Rendered by the gateway on Console pages (templates/_switcher.html) from the signed-in user's
product links.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request, url_for
from flask_login import current_user
from sqlalchemy import select

from config.gateway import PRODUCTS
from gateway.db import db
from gateway.models import ProductLink

PRODUCT_NAMES = {"console": "Console", "segment": "Segment", "sendgrid": "SendGrid"}


@dataclass(frozen=True)
class SwitcherItem:
    key: str
    name: str
    url: str
    linked: bool
    current: bool


def linked_products(user_id: str) -> set[str]:
    query = select(ProductLink.product).where(ProductLink.user_id == user_id)
    return set(db().scalars(query))


def switcher_items() -> list[SwitcherItem]:
    linked = linked_products(current_user.user.id) if current_user.is_authenticated else set()
    items = [SwitcherItem("console", "Console", url_for("console.home"), True, True)]
    for product in PRODUCTS:
        prefix = current_app.config[f"{product.upper()}_PREFIX"].rstrip("/")
        items.append(
            SwitcherItem(
                product,
                PRODUCT_NAMES[product],
                prefix + "/",
                product in linked,
                request.path.startswith(prefix + "/"),
            )
        )
    return items


def init_app(app: Flask) -> None:
    app.jinja_env.globals["switcher_items"] = switcher_items
