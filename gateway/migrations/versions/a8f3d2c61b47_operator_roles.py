"""operator roles, disabled accounts, forced 2FA enrolment, audit actor

Revision ID: a8f3d2c61b47
Revises: 4f8a2c6d9e13
Create Date: 2026-12-08 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

import gateway.models


revision = 'a8f3d2c61b47'
down_revision = '4f8a2c6d9e13'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('role', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('disabled_at', gateway.models.UTCDateTime(timezone=True),
                                      nullable=True))
        batch_op.add_column(sa.Column('must_enrol_2fa', sa.Boolean(), nullable=False,
                                      server_default='0'))
        batch_op.create_index(batch_op.f('ix_users_role'), ['role'], unique=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('actor_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_audit_events_actor_id'), ['actor_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_events_actor_id'))
        batch_op.drop_column('actor_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_role'))
        batch_op.drop_column('must_enrol_2fa')
        batch_op.drop_column('disabled_at')
        batch_op.drop_column('role')
