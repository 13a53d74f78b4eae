"""Regional facts keep the sender's version; inbox and waiting room keyed by event source; the
outbox relay's lease.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from setka_runtime.deferred import upgrade_deferred_table
from setka_runtime.tables import upgrade_plumbing_tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

VERSIONED = ("attendance", "assessment_result", "training", "deficit")


def upgrade() -> None:
    upgrade_plumbing_tables(op)
    upgrade_deferred_table(op)
    for table in VERSIONED:
        op.add_column(table, sa.Column("source_version", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in VERSIONED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("source_version")
    op.drop_table("relay_lease")
