"""Demo Console users for the one-command stack (idempotent), and ``flask seed-demo``."""

from __future__ import annotations

import click
from flask.cli import with_appcontext
from sqlalchemy import select

from gateway.db import new_session
from gateway.identity.passwords import hash_password
from gateway.models import ProductLink, User, utcnow

#: email, password. Which of them a product links in the demo, the product's module says
#: (``DEMO_LINKED``; ``python app.py`` records those links).
DEMO_USERS = [
    ("alice@example.com", "alice-demo-password"),
    ("bob@example.com", "bob-demo-password"),
    ("dave@example.com", "dave-demo-password"),
]


def seed_demo_users() -> list[str]:
    """Create the demo users (verified) and return printable lines describing them."""
    lines = []
    with new_session() as session:
        for email, password in DEMO_USERS:
            user = session.scalars(select(User).where(User.email == email)).first()
            if user is None:
                user = User(email=email, password_hash=hash_password(password),
                            email_verified_at=utcnow())
                session.add(user)
            lines.append(f"  {email:<22} password: {password}")
        session.commit()
    return lines


def console_user_id(email: str) -> str:
    with new_session() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()


def record_demo_link(email: str, product: str, product_user_id: str) -> None:
    """Record the gateway side of a demo link (the product side is already linked)."""
    with new_session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
        exists = session.scalars(
            select(ProductLink).where(
                ProductLink.user_id == user.id, ProductLink.product == product
            )
        ).first()
        if exists is None:
            session.add(ProductLink(user_id=user.id, product=product,
                                    product_user_id=product_user_id, origin="linked"))
            session.commit()


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo Console users (idempotent) and print them."""
    for line in seed_demo_users():
        click.echo(line)
