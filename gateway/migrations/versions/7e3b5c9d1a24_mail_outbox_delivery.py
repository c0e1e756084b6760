"""mail outbox delivery: status, attempts, backoff

Revision ID: 7e3b5c9d1a24
Revises: c1dfb2bb6914
Create Date: 2026-12-05 16:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

import gateway.models


revision = '7e3b5c9d1a24'
down_revision = 'c1dfb2bb6914'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        # Rows from before were kept for the developer mailbox (SMTP mail never reached the
        # table): they stay there and are never sent.
        batch_op.add_column(sa.Column('status', sa.String(length=16), nullable=False,
                                      server_default='mailbox'))
        batch_op.add_column(sa.Column('attempts', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('next_attempt_at', gateway.models.UTCDateTime(timezone=True),
                                      nullable=False, server_default=sa.func.current_timestamp()))
        batch_op.add_column(sa.Column('sent_at', gateway.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('last_error', sa.String(length=200), nullable=True))
        batch_op.create_index('ix_outbox_messages_due', ['status', 'next_attempt_at'], unique=False)
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.alter_column('status', server_default=None)
        batch_op.alter_column('attempts', server_default=None)
        batch_op.alter_column('next_attempt_at', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_messages_due')
        batch_op.drop_column('last_error')
        batch_op.drop_column('sent_at')
        batch_op.drop_column('next_attempt_at')
        batch_op.drop_column('attempts')
        batch_op.drop_column('status')
