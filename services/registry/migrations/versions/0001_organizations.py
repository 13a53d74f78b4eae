"""Organizations, outbox and inbox.

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
        "organization",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("full_name", sa.String(500), nullable=False),
        sa.Column("short_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("region_code", sa.String(3), nullable=False),
        sa.Column("municipality", sa.String(200), nullable=True),
        sa.Column("inn", sa.String(10), nullable=True, unique=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_organization_full_name", "organization", ["full_name", "id"])
    op.create_index("ix_organization_kind", "organization", ["kind"])
    op.create_index("ix_organization_region_code", "organization", ["region_code"])


def downgrade() -> None:
    op.drop_table("organization")
    drop_plumbing_tables(op)
