"""used_tokens: expires_at (spent ids are pruned once nothing could present them again)

Revision ID: a7d3e5f1c2b9
Revises: e3c1a9b7d204
Create Date: 2026-12-05 19:45:00.000000
"""

from alembic import op
import sqlalchemy as sa
import gateway.models


revision = 'a7d3e5f1c2b9'
down_revision = 'e3c1a9b7d204'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', gateway.models.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('used_tokens', schema=None) as batch_op:
        batch_op.drop_column('expires_at')
