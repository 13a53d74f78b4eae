"""Local copy of organizations, outbox and inbox.

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
        "known_organization",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("short_name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("region_code", sa.String(3), nullable=False),
        sa.Column("inn", sa.String(10), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_known_organization_inn", "known_organization", ["inn"])


def downgrade() -> None:
    op.drop_table("known_organization")
    drop_plumbing_tables(op)
