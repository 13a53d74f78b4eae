"""The waiting room: an event that refers to something analytics has not seen yet (attendance
before its activity) waits in ``deferred`` and is tried again, instead of being dead-lettered.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
from setka_runtime.deferred import create_deferred_table, drop_deferred_table

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_deferred_table(op)


def downgrade() -> None:
    drop_deferred_table(op)
