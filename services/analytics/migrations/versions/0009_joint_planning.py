"""Joint planning: a plan's period; a plan item's kind (activity or task), the day a task was
marked done, and whether an amendment withdrew it. Rows made before are calendar-year plans of
activity items, none withdrawn: all the events service could publish then.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("plan", sa.Column("period", sa.String(20), nullable=False, server_default="calendar_year"))
    op.add_column("plan_item", sa.Column("kind", sa.String(20), nullable=False, server_default="activity"))
    op.add_column("plan_item", sa.Column("done_on", sa.Date(), nullable=True))
    op.add_column(
        "plan_item", sa.Column("withdrawn", sa.Boolean(), nullable=False, server_default=sa.false())
    )


def downgrade() -> None:
    with op.batch_alter_table("plan_item") as batch:
        batch.drop_column("withdrawn")
        batch.drop_column("done_on")
        batch.drop_column("kind")
    with op.batch_alter_table("plan") as batch:
        batch.drop_column("period")
