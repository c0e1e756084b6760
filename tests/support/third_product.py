"""A third product for the "products are data" proofs: the product kit (product_stubs/kit) run
as "Notes", a linked product the gateway knows only from a products file, and that file.

``products_file(folder, notes=..., wiki=...)`` writes the shipped entries plus Notes
(``accounts = "linked"``) and Wiki (``accounts = "none"``, a plain app: the echo product).
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from config import products_file as shipped
from config.products import PRODUCTION, ProductTestSwitches
from product_stubs.kit.app import create_product_app
from product_stubs.kit.profile import ProductProfile
from product_stubs.kit.seed import link_user_for_demo, seed_users

PROFILE = ProductProfile(
    name="notes",
    title="Notes",
    container="notebook",
    containers="notebooks",
    item="note",
    session_history=False,
    # The kit needs a look (base.html); any product's will do.
    template_folder=os.path.join(os.path.dirname(shipped.__file__), "..", "product_stubs",
                                 "segment", "templates"),
    port=5003,
)

DEMO_USERS = [("nora@example.com", "notes-nora-pass", "Nora's notebook", "owner")]

__all__ = ["create_app", "seed_demo_data", "link_user_for_demo", "products_file"]


def create_app(
    test_config: dict[str, Any] | None = None, switches: ProductTestSwitches = PRODUCTION
) -> Flask:
    return create_product_app(PROFILE, test_config, switches)


def seed_demo_data(app: Flask) -> None:
    seed_users(app, DEMO_USERS)


def products_file(folder: str, notes: str, wiki: str) -> str:
    """The shipped products file plus Notes (upstream ``notes``) and Wiki (``wiki``)."""
    with open(shipped.DEFAULT_FILE, encoding="utf-8") as f:
        text = f.read()
    text += f"""
[[products]]
name = "notes"
title = "Notes"
prefix = "/notes"
upstream = "{notes}"
accounts = "linked"
scim_url = "/scim/v2"
scim_token_env = "NOTES_SCIM_TOKEN"
link_url = "/internal/link"
container = "notebook"
public_paths = ["/login", "/signup", "/static/", "/favicon.ico"]
internal_paths = ["/scim", "/internal", "/healthz", "/readyz"]

[[products]]
name = "wiki"
title = "Team Wiki"
prefix = "/wiki"
upstream = "{wiki}"
accounts = "none"
"""
    path = os.path.join(folder, "products.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
