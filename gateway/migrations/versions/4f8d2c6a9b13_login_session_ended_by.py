"""why a session ended

Revision ID: 4f8d2c6a9b13
Revises: b5e1c9d04a72
Create Date: 2026-12-05 16:40:00.000000

``login_sessions.ended_by`` names what ended a session (a password change, "sign out
everywhere", ...), so a browser still holding it is told why on the sign-in page. Sessions
ended before this revision have none and are told nothing special.
"""

import sqlalchemy as sa
from alembic import op


revision = '4f8d2c6a9b13'
down_revision = 'b5e1c9d04a72'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ended_by', sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('login_sessions', schema=None) as batch_op:
        batch_op.drop_column('ended_by')
