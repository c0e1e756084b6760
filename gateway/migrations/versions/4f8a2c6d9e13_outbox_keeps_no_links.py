"""the outbox keeps no live links

Revision ID: 4f8a2c6d9e13
Revises: 7e3b5c9d1a24
Create Date: 2026-12-12 09:00:00.000000

A sent or given-up mail now loses its body (reset, verification and email-change links) when
it is marked so (gateway/identity/mail_delivery.py); rows marked before that are cleared here.
Recipient, subject, times and status stay. Nothing to restore on the way down.
"""

from alembic import op


revision = '4f8a2c6d9e13'
down_revision = '7e3b5c9d1a24'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE outbox_messages SET body = '' WHERE status IN ('sent', 'failed')")


def downgrade() -> None:
    pass
