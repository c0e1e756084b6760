"""SendGrid: accounts; served by the gateway at /sendgrid/ (port 5002)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from config.products import PRODUCTION, ProductTestSwitches
from product_stubs.kit.app import create_product_app
from product_stubs.kit.profile import ProductProfile
from product_stubs.kit.seed import link_user_for_demo, seed_users

PROFILE = ProductProfile(
    name="sendgrid",
    title="SendGrid",
    container="account",
    containers="accounts",
    item="sender",
    session_history=False,
    port=5002,
    template_folder=os.path.join(os.path.dirname(__file__), "templates"),
)

#: Demo users: (email, password, account, role).
DEMO_USERS = [
    # alice had a SendGrid user before unified login; the gateway's demo seed links her.
    ("alice@example.com", "sendgrid-alice-pass", "Alice Newsletters", "owner"),
    ("dave@example.com", "sendgrid-dave-pass", "Dave Mail", "owner"),
    ("erin@sendgrid.example", "sendgrid-erin-pass", "Dave Mail", "member"),
]

#: Console users this product links in the demo (same email on both sides).
DEMO_LINKED = ["alice@example.com"]

__all__ = ["create_app", "seed_demo_data", "link_user_for_demo"]


def create_app(
    test_config: dict[str, Any] | None = None, switches: ProductTestSwitches = PRODUCTION
) -> Flask:
    return create_product_app(PROFILE, test_config, switches)


def seed_demo_data(app: Flask) -> None:
    """Idempotent demo users, accounts and roles (credentials in README)."""
    seed_users(app, DEMO_USERS)
