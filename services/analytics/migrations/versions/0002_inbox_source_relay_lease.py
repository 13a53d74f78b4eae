"""The inbox keyed by event source and id; the outbox relay's lease.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
from setka_runtime.tables import upgrade_plumbing_tables

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    upgrade_plumbing_tables(op)


def downgrade() -> None:
    op.drop_table("relay_lease")
