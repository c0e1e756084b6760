"""Segment: workspaces, session history; served by the gateway at /segment/ (port 5001)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from config.products import PRODUCTION, ProductTestSwitches
from product_stubs.kit.app import create_product_app
from product_stubs.kit.profile import ProductProfile
from product_stubs.kit.seed import link_user_for_demo, seed_users

PROFILE = ProductProfile(
    name="segment",
    title="Segment",
    container="workspace",
    containers="workspaces",
    item="source",
    session_history=True,
    port=5001,
    template_folder=os.path.join(os.path.dirname(__file__), "templates"),
)

#: Demo users: (email, password, workspace, role).
DEMO_USERS = [
    ("alice@example.com", "segment-alice-pass", "Acme Analytics", "owner"),
    ("bob@example.com", "segment-bob-pass", "Acme Analytics", "read-only"),
    ("carol@segment.example", "segment-carol-pass", "Acme Analytics", "admin"),
]

__all__ = ["create_app", "seed_demo_data", "link_user_for_demo"]


def create_app(
    test_config: dict[str, Any] | None = None, switches: ProductTestSwitches = PRODUCTION
) -> Flask:
    return create_product_app(PROFILE, test_config, switches)


def seed_demo_data(app: Flask) -> None:
    """Idempotent demo users, workspaces and roles (credentials in README)."""
    seed_users(app, DEMO_USERS)
