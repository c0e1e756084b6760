"""admin API clients and their access tokens

Revision ID: b5e1c9d04a72
Revises: a8f3d2c61b47
Create Date: 2026-12-09 10:00:00.000000
"""

from alembic import op
import sqlalchemy as sa

import gateway.models


revision = 'b5e1c9d04a72'
down_revision = 'a8f3d2c61b47'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'api_clients',
        sa.Column('id', sa.String(length=32), nullable=False),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('secret_hash', sa.String(length=255), nullable=False),
        sa.Column('role', sa.String(length=16), nullable=False),
        sa.Column('scopes', sa.String(length=200), nullable=False),
        sa.Column('created_by', sa.String(length=32), nullable=False),
        sa.Column('created_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('last_used_at', gateway.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column('revoked_at', gateway.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['created_by'], ['users.id'],
                                name=op.f('fk_api_clients_created_by_users'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_api_clients')),
    )
    op.create_index(op.f('ix_api_clients_created_by'), 'api_clients', ['created_by'],
                    unique=False)
    op.create_table(
        'api_tokens',
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('client_id', sa.String(length=32), nullable=False),
        sa.Column('scope', sa.String(length=200), nullable=False),
        sa.Column('issued_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column('expires_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['client_id'], ['api_clients.id'],
                                name=op.f('fk_api_tokens_client_id_api_clients'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('token_hash', name=op.f('pk_api_tokens')),
    )
    op.create_index(op.f('ix_api_tokens_client_id'), 'api_tokens', ['client_id'], unique=False)
    op.create_index(op.f('ix_api_tokens_expires_at'), 'api_tokens', ['expires_at'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_api_tokens_expires_at'), table_name='api_tokens')
    op.drop_index(op.f('ix_api_tokens_client_id'), table_name='api_tokens')
    op.drop_table('api_tokens')
    op.drop_index(op.f('ix_api_clients_created_by'), table_name='api_clients')
    op.drop_table('api_clients')
