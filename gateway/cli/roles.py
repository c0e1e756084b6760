"""``flask roles grant EMAIL ROLE``, ``revoke EMAIL``, ``list``: operator roles from a shell.

The first owner can only come from here (the console grants roles only to owners). A grant
is audited like one made in the console (``role_granted``, reason "command line"); the
account must then enrol a second factor at its next sign-in (``roles.must_enrol``).
"""

from __future__ import annotations

import click
from flask.cli import AppGroup
from sqlalchemy import select

from gateway.db import db
from gateway.identity import roles
from gateway.identity.addresses import canonical_email
from gateway.models import User

roles_cli = AppGroup("roles", help="Grant, revoke and list operator roles (owner, admin, support).")

_REASON = "command line"


def _account(email: str) -> User:
    canonical = canonical_email(email)
    user = db().scalars(select(User).where(User.email == canonical)).first() if canonical else None
    if user is None:
        raise click.ClickException(f"no account {email}")
    return user


@roles_cli.command("grant")
@click.argument("email")
@click.argument("role", type=click.Choice([r.label for r in roles.Role]))
def grant(email: str, role: str) -> None:
    """Give EMAIL the operator ROLE (it replaces any role held)."""
    user = _account(email)
    parsed = roles.Role.parse(role)
    roles.set_role(user, parsed, None, _REASON)
    db().commit()
    needs = ""
    if roles.must_enrol(user):
        needs = " (a second factor will be set up at the next sign-in)"
    click.echo(f"{user.email} is now {role}{needs}")


@roles_cli.command("revoke")
@click.argument("email")
def revoke(email: str) -> None:
    """Take EMAIL's operator role away."""
    user = _account(email)
    roles.set_role(user, None, None, _REASON)
    db().commit()
    click.echo(f"{user.email} holds no role")


@roles_cli.command("list")
def list_roles() -> None:
    """Every account holding a role: role, email, whether a second factor is set up."""
    for user in roles.holders():
        factor = "2FA on" if user.has_second_factor else "2FA not set up yet"
        click.echo(f"{user.role:8}  {user.email}  {factor}")
