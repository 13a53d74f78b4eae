"""Region summary, outbox and inbox.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from setka_runtime.tables import create_plumbing_tables, drop_plumbing_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_plumbing_tables(op)
    op.create_table(
        "region_summary",
        sa.Column("region_code", sa.String(3), primary_key=True),
        sa.Column("organizations", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("schools", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("region_summary")
    drop_plumbing_tables(op)
