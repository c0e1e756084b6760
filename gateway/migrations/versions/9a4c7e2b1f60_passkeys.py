"""passkeys (WebAuthn credentials and their challenges)

Revision ID: 9a4c7e2b1f60
Revises: 5d2e8a41c7b9
Create Date: 2026-11-28 08:15:00.000000
"""

from alembic import op
import sqlalchemy as sa

import gateway.models


revision = '9a4c7e2b1f60'
down_revision = '5d2e8a41c7b9'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'passkey_credentials',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('public_id', sa.String(length=32), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=False),
        sa.Column('credential_id', sa.String(length=1400), nullable=False),
        sa.Column('public_key', sa.LargeBinary(), nullable=False),
        sa.Column('sign_count', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=64), nullable=False),
        sa.Column('transports', sa.String(length=128), nullable=False),
        sa.Column('multi_device', sa.Boolean(), nullable=False),
        sa.Column('created_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', gateway.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'],
                                name=op.f('fk_passkey_credentials_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_passkey_credentials')),
        sa.UniqueConstraint('credential_id', name=op.f('uq_passkey_credentials_credential_id')),
        sa.UniqueConstraint('public_id', name=op.f('uq_passkey_credentials_public_id')),
    )
    with op.batch_alter_table('passkey_credentials', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkey_credentials_user_id'), ['user_id'],
                              unique=False)
    op.create_table(
        'passkey_challenges',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('purpose', sa.String(length=16), nullable=False),
        sa.Column('binding', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=32), nullable=True),
        sa.Column('expires_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('used_at', gateway.models.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_passkey_challenges')),
    )
    with op.batch_alter_table('passkey_challenges', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_passkey_challenges_binding'), ['binding'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('passkey_challenges', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkey_challenges_binding'))
    op.drop_table('passkey_challenges')
    with op.batch_alter_table('passkey_credentials', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_passkey_credentials_user_id'))
    op.drop_table('passkey_credentials')
