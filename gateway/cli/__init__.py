"""Every operator command (``flask --app gateway <command>``), registered in one place.

database (db-upgrade, db-revision), accounts (create-user, sessions list / revoke),
keys (assertion key rotation), repair (email-change), mail (deliver the outbox), demo
(seed-demo), edge (the nginx or Caddy configuration for the products file), roles
(operator roles: grant, revoke, list), audit (prune), tokens (prune).
"""

from __future__ import annotations

from flask import Flask

from gateway.cli import accounts, audit, database, demo, edge, keys, mail, repair, roles, tokens


def init_app(app: Flask) -> None:
    for command in (
        database.db_upgrade,
        database.db_revision,
        accounts.create_user,
        accounts.sessions_cli,
        keys.keys_cli,
        repair.email_change_cli,
        mail.mail_cli,
        demo.seed_demo,
        edge.edge_cli,
        roles.roles_cli,
        audit.audit_cli,
        tokens.tokens_cli,
    ):
        app.cli.add_command(command)
