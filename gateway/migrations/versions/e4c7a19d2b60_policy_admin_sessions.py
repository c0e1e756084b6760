"""sign-in policy (one row), sessions that used the operator console

Revision ID: e4c7a19d2b60
Revises: d4a7c2e9f1b3
Create Date: 2026-12-05 18:30:00.000000
"""

from alembic import op
import sqlalchemy as sa

import gateway.models


revision = 'e4c7a19d2b60'
down_revision = 'd4a7c2e9f1b3'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('policy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('require_2fa', sa.Boolean(), nullable=False),
    sa.Column('allow_totp', sa.Boolean(), nullable=False),
    sa.Column('allow_passkey', sa.Boolean(), nullable=False),
    sa.Column('session_idle_seconds', sa.Integer(), nullable=True),
    sa.Column('session_max_seconds', sa.Integer(), nullable=True),
    sa.Column('updated_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by', sa.String(length=32), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_policy'))
    )
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('admin_used_at', gateway.models.UTCDateTime(timezone=True),
                                      nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_column('admin_used_at')
    op.drop_table('policy')
