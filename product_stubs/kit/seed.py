"""Idempotent demo data helpers."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from product_stubs.kit.db import session_factory
from product_stubs.kit.models import Container, Membership, User
from product_stubs.kit.users import link, passwords


def ensure_user(app: Flask, email: str, password: str) -> str:
    """Create an unlinked password user if missing; return its id."""
    with app.app_context(), session_factory(app)() as db:
        user = db.scalar(select(User).where(User.email == email))
        if user is None:
            user = User(email=email, password_hash=passwords().hash(password))
            db.add(user)
            db.commit()
        return user.id


def ensure_membership(app: Flask, container_name: str, email: str, role: str) -> None:
    """Put ``email`` in the named workspace/account (created if missing) with ``role``."""
    with session_factory(app)() as db:
        container = db.scalar(select(Container).where(Container.name == container_name))
        if container is None:
            container = Container(name=container_name, plan="free")
            db.add(container)
            db.flush()
        user = db.scalar(select(User).where(User.email == email))
        assert user is not None
        membership = db.scalar(
            select(Membership).where(
                Membership.container_id == container.id, Membership.user_id == user.id
            )
        )
        if membership is None:
            db.add(Membership(container_id=container.id, user_id=user.id, role=role))
        db.commit()


def link_user_for_demo(app: Flask, email: str, console_user_id: str) -> str:
    """Link the product user ``email`` to a Console user (idempotent); return the product id."""
    with app.app_context(), session_factory(app)() as db:
        user = db.scalar(select(User).where(User.email == email.strip().lower()))
        if user is None:
            raise LookupError(f"no product user {email}")
        if user.external_id != console_user_id:
            link(db, user, console_user_id, "demo seed")
            db.commit()
        return user.id


def seed_users(app: Flask, rows: list[tuple[str, str, str, str]]) -> None:
    """Rows of (email, password, workspace/account name, role)."""
    for email, password, container_name, role in rows:
        ensure_user(app, email, password)
        ensure_membership(app, container_name, email, role)
