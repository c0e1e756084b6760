"""SCIM in: organization bearer tokens, IdP deactivation, externalId of members

Revision ID: d4a7c2e9f1b3
Revises: b85af51bdb8a
Create Date: 2026-12-05 18:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import gateway.models


revision = 'd4a7c2e9f1b3'
down_revision = 'b85af51bdb8a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('scim_tokens',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.String(length=32), nullable=True),
    sa.Column('created_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', gateway.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', gateway.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_scim_tokens_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scim_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_scim_tokens_token_hash'))
    )
    with op.batch_alter_table('scim_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_scim_tokens_organization_id'), ['organization_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deprovisioned_at', gateway.models.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('organization_members', schema=None) as batch_op:
        batch_op.add_column(sa.Column('scim_external_id', sa.String(length=128), nullable=True))
        batch_op.add_column(sa.Column('scim_updated_at', gateway.models.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('organization_members', schema=None) as batch_op:
        batch_op.drop_column('scim_updated_at')
        batch_op.drop_column('scim_external_id')

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('deprovisioned_at')

    with op.batch_alter_table('scim_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_scim_tokens_organization_id'))

    op.drop_table('scim_tokens')
