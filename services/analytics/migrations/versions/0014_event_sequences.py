"""Versions everywhere: each copied aggregate keeps the sequence (``ce_sequence``, its producer's
outbox position) of the newest event applied to it, so an older event never overwrites it.

Parts of a row that events other than the aggregate's whole state set have a sequence of their
own: an activity's status (its transitions) and dates (a postponement), a membership's role (the
centre's designation). Rows copied before keep 0: every sequenced event counts as newer.

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

PARTS = (
    ("activity", "status_sequence"),
    ("activity", "dates_sequence"),
    ("membership", "role_sequence"),
)


def _column(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), server_default="0", nullable=False)


def upgrade() -> None:
    for table in SEQUENCED:
        op.add_column(table, _column("sequence"))
    for table, column in PARTS:
        op.add_column(table, _column(column))


def downgrade() -> None:
    for table, column in reversed(PARTS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(column)
    for table in SEQUENCED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("sequence")
