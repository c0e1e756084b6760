"""Operator commands: ``flask --app gateway <command>``.

db-upgrade, db-revision, create-user, sessions list / revoke, seed-demo.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from sqlalchemy import select

from gateway import migrate
from gateway.db import new_session
from gateway.emails import canonical_email
from gateway.models import LoginSession, User, utcnow
from gateway.passwords import hash_password, policy_problem

sessions_cli = AppGroup("sessions", help="List and revoke Console sessions.")
email_change_cli = AppGroup("email-change", help="Repair interrupted email changes.")


@click.command("db-upgrade")
@with_appcontext
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the schema to the latest revision."""
    migrate.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo("database is at " + revision)


@click.command("db-revision")
@with_appcontext
@click.argument("message")
def db_revision(message: str) -> None:
    """Write a new migration from the models (developers)."""
    migrate.make_revision(current_app.config["DATABASE_URL"], message)


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
    """Revoke one session by public id, or all of a user's with --email."""
    if not public_id and not email:
        raise click.UsageError("give a session id or --email")
    with new_session() as session:
        query = select(LoginSession).where(LoginSession.revoked_at.is_(None))
        if public_id:
            query = query.where(LoginSession.public_id == public_id)
        if email:
            query = query.join(User).where(User.email == canonical_email(email))
        records = list(session.scalars(query))
        for record in records:
            record.revoked_at = utcnow()
        session.commit()
    click.echo(f"revoked {len(records)} session(s)")


@email_change_cli.command("repair")
@click.option("--stale-seconds", type=int, default=None,
              help="Only changes idle this long (default EMAIL_CHANGE_STALE_SECONDS).")
def repair_email_changes(stale_seconds: int | None) -> None:
    """Roll back email changes a crash or an outage left midway; expire old pending ones."""
    from gateway import email_change

    settled = email_change.repair(stale_seconds)
    expired = email_change.expire_pending()
    click.echo(f"rolled back {settled} interrupted change(s), expired {expired} pending")


@click.command("seed-demo")
@with_appcontext
def seed_demo() -> None:
    """Create the demo Console users (idempotent) and print them."""
    from gateway.demo import seed_demo_users

    for line in seed_demo_users():
        click.echo(line)


def init_app(app: Flask) -> None:
    for command in (db_upgrade, db_revision, create_user, seed_demo):
        app.cli.add_command(command)
    app.cli.add_command(sessions_cli)
    app.cli.add_command(email_change_cli)
