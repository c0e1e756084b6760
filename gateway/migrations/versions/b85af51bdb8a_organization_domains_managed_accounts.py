"""organization domains, managed accounts

Revision ID: b85af51bdb8a
Revises: 1776cfc21a7b
Create Date: 2026-12-05 16:47:35.056123
"""

from alembic import op
import sqlalchemy as sa
import gateway.models


revision = 'b85af51bdb8a'
down_revision = '1776cfc21a7b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('organization_domains',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('domain', sa.String(length=253), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('created_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('verified_at', gateway.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('claim', sa.String(length=253), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_organization_domains_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organization_domains')),
    sa.UniqueConstraint('claim', name=op.f('uq_organization_domains_claim')),
    sa.UniqueConstraint('organization_id', 'domain', name='uq_organization_domains_domain')
    )
    with op.batch_alter_table('organization_domains', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organization_domains_organization_id'), ['organization_id'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('managed_by_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_users_managed_by_id'), ['managed_by_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_users_managed_by_id_organizations'), 'organizations', ['managed_by_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_users_managed_by_id_organizations'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_users_managed_by_id'))
        batch_op.drop_column('managed_by_id')

    with op.batch_alter_table('organization_domains', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organization_domains_organization_id'))

    op.drop_table('organization_domains')
