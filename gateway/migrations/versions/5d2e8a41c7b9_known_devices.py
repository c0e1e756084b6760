"""known devices (new-sign-in notice, remember this device)

Revision ID: 5d2e8a41c7b9
Revises: 3b1f0c9e7a52
Create Date: 2026-11-28 08:20:00.000000
"""

from alembic import op
import sqlalchemy as sa

import gateway.models


revision = '5d2e8a41c7b9'
down_revision = '3b1f0c9e7a52'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'known_devices',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=120), nullable=False),
        sa.Column('created_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('remembered_until', gateway.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_known_devices_user_id_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_known_devices')),
        sa.UniqueConstraint('public_id', name=op.f('uq_known_devices_public_id')),
        sa.UniqueConstraint('token_hash', name=op.f('uq_known_devices_token_hash')),
    )
    with op.batch_alter_table('known_devices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_known_devices_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('known_devices', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_known_devices_user_id'))
    op.drop_table('known_devices')
