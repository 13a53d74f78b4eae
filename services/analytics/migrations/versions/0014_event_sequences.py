"""Versions everywhere: each copied aggregate keeps the sequence (``ce_sequence``, its producer's
outbox position) of the newest event applied to it, so an older event never overwrites it.

Rows copied before keep 0: every sequenced event counts as newer.

Revision ID: 0014
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0010"
branch_labels = None
depends_on = None

SEQUENCED = (
    "organization",
    "educator",
    "membership",
    "plan_item",
    "activity",
    "attendance",
    "feedback",
    "assessment_result",
    "training",
    "deficit",
)


def upgrade() -> None:
    for table in SEQUENCED:
        op.add_column(table, sa.Column("sequence", sa.BigInteger(), server_default="0", nullable=False))


def downgrade() -> None:
    for table in SEQUENCED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("sequence")
