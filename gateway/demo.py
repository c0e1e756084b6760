"""Demo Console users for the one-command stack (idempotent)."""

from __future__ import annotations

from sqlalchemy import select

from gateway.db import new_session
from gateway.models import ProductLink, User, utcnow
from gateway.passwords import hash_password

#: email, password, product links to record: {product: product user email}
DEMO_USERS = [
    ("alice@example.com", "alice-demo-password", {"sendgrid": "alice@example.com"}),
    ("bob@example.com", "bob-demo-password", {}),
    ("dave@example.com", "dave-demo-password", {}),
]


def seed_demo_users() -> list[str]:
    """Create the demo users (verified) and return printable lines describing them."""
    lines = []
    with new_session() as session:
        for email, password, _links in DEMO_USERS:
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
