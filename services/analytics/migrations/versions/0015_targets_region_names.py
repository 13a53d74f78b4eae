"""Targets decided by regions and networks (``indicator_target``) and the regions' names as the
organizations' events name them (``region``), so titles say a name instead of a code.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "region",
        sa.Column("code", sa.String(3), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("code"),
    )
    op.create_table(
        "indicator_target",
        sa.Column("scope_kind", sa.String(20), nullable=False),
        sa.Column("scope_key", sa.String(40), nullable=False),
        sa.Column("indicator", sa.String(60), nullable=False),
        sa.Column("year_kind", sa.String(20), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("region_code", sa.String(3), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_by_role", sa.String(40), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope_kind", "scope_key", "indicator", "year_kind", "year"),
    )
    op.create_index("ix_indicator_target_region_code", "indicator_target", ["region_code"])


def downgrade() -> None:
    op.drop_index("ix_indicator_target_region_code", table_name="indicator_target")
    op.drop_table("indicator_target")
    op.drop_table("region")
