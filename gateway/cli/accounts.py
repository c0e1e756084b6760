"""``flask create-user`` and ``flask sessions list / revoke``: Console accounts by hand.

Revocation goes through :func:`gateway.identity.sessions.revoke` and writes an audit event,
exactly as a person's own "sign out" does.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from gateway.db import db, new_session
from gateway.identity import audit, sessions
from gateway.identity.addresses import canonical_email
from gateway.identity.passwords import hash_password, policy_problem
from gateway.models import LoginSession, User, utcnow

sessions_cli = AppGroup("sessions", help="List and revoke Console sessions.")


@click.command("create-user")
@with_appcontext
@click.argument("email")
@click.password_option(help="Prompted for when not given.")
@click.option("--unverified", is_flag=True, help="Leave the email unverified.")
def create_user(email: str, password: str, unverified: bool) -> None:
    """Create a Console user (email verified unless --unverified)."""
    canonical = canonical_email(email)
    if canonical is None:
        raise click.BadParameter("not a valid email address", param_hint="EMAIL")
    problem = policy_problem(password, canonical)
    if problem:
        raise click.BadParameter(problem, param_hint="password")
    with new_session() as session:
        if session.scalars(select(User).where(User.email == canonical)).first():
            raise click.ClickException(f"{canonical} already exists")
        user = User(email=canonical, password_hash=hash_password(password))
        if not unverified:
            user.email_verified_at = utcnow()
        session.add(user)
        session.commit()
        click.echo(f"created {canonical} (id {user.id})")


@sessions_cli.command("list")
@click.option("--email", help="Only this user's sessions.")
def list_sessions(email: str | None) -> None:
    """Live sessions: public id, user, created, last seen, address."""
    with new_session() as session:
        query = (
            select(LoginSession, User.email)
            .join(User)
            .where(LoginSession.revoked_at.is_(None))
            .order_by(LoginSession.last_seen_at.desc())
        )
        if email:
            query = query.where(User.email == canonical_email(email))
        for record, user_email in session.execute(query):
            click.echo(
                f"{record.public_id}  {user_email}  created {record.created_at:%Y-%m-%d %H:%M}  "
                f"seen {record.last_seen_at:%Y-%m-%d %H:%M}  {record.ip_address}"
            )


@sessions_cli.command("revoke")
@click.argument("public_id", required=False)
@click.option("--email", help="Revoke every session of this user.")
def revoke_sessions(public_id: str | None, email: str | None) -> None:
    """Revoke one session by public id, or all of a user's with --email (which also ends any
    sign-in of theirs still waiting for its 2FA code, as "sign out everywhere" does)."""
    if not public_id and not email:
        raise click.UsageError("give a session id or --email")
    count = 0
    if public_id:
        query = select(LoginSession).where(
            LoginSession.revoked_at.is_(None), LoginSession.public_id == public_id
        )
        for record in db().scalars(query):
            sessions.revoke(record, "operator")
            audit.record("session_revoked", record.user_id, session=record.public_id,
                         by="operator")
            count += 1
    if email:
        user = db().scalars(select(User).where(User.email == canonical_email(email))).first()
        if user is None:
            raise click.ClickException(f"no user {email}")
        count += sessions.revoke_all(user.id, reason="operator")
        audit.record("sessions_revoked_all", user.id, by="operator")
    db().commit()
    click.echo(f"revoked {count} session(s)")
