"""unconfirmed TOTP secrets leave the account

Revision ID: c1dfb2bb6914
Revises: 9a4c7e2b1f60
Create Date: 2026-12-10 09:00:00.000000

``users.totp_secret`` used to be written when the set-up page was opened, before any code
confirmed it; it now holds only a confirmed key (the key being set up lives in the enrolment,
gateway/identity/enrolment.py). Keys stored but never confirmed are dropped here, with the time
step any of them claimed, so none can count as a second factor. Nothing to restore on the way
down: those keys were never the account's.
"""

from alembic import op


revision = 'c1dfb2bb6914'
down_revision = '9a4c7e2b1f60'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE users SET totp_secret = NULL, totp_last_step = NULL "
        "WHERE totp_enabled_at IS NULL"
    )


def downgrade() -> None:
    pass
