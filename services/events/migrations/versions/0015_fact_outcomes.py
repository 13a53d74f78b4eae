"""Facts kept for the intake say what became of them: the consumer's outcome and its reason
(an import's line report, a mutation's answer).

Revision ID: 0015
Revises: 0013
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("accepted_fact", sa.Column("outcome", sa.String(20), nullable=True))
    op.add_column("accepted_fact", sa.Column("reason", sa.String(2000), nullable=True))


def downgrade() -> None:
    op.drop_column("accepted_fact", "reason")
    op.drop_column("accepted_fact", "outcome")
