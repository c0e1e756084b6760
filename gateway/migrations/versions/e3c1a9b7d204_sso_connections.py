"""sso connections, enforced sso, sso sessions

Revision ID: e3c1a9b7d204
Revises: b85af51bdb8a
Create Date: 2026-12-05 18:35:00.000000
"""

from alembic import op
import sqlalchemy as sa
import gateway.models


revision = 'e3c1a9b7d204'
down_revision = 'b85af51bdb8a'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('sso_connections',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('organization_id', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('config', sa.Text(), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default='1', nullable=False),
    sa.Column('created_at', gateway.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organization_id'], ['organizations.id'], name=op.f('fk_sso_connections_organization_id_organizations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sso_connections'))
    )
    with op.batch_alter_table('sso_connections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_sso_connections_organization_id'), ['organization_id'], unique=False)

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sso_enforced', sa.Boolean(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('sso_session_max_age', sa.Integer(), nullable=True))

    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('idp', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('max_age', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_column('max_age')
        batch_op.drop_column('idp')

    with op.batch_alter_table('organizations', schema=None) as batch_op:
        batch_op.drop_column('sso_session_max_age')
        batch_op.drop_column('sso_enforced')

    with op.batch_alter_table('sso_connections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_sso_connections_organization_id'))

    op.drop_table('sso_connections')
