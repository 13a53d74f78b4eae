"""Organizations as analytics knows them (region and kind), from the registry's events.

Organizations whose registration this service consumed before this revision are not in it (their
region summary through the organization is null) until those events are consumed again.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organization",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("region_code", sa.String(3), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_organization_region_code", "organization", ["region_code"])


def downgrade() -> None:
    op.drop_index("ix_organization_region_code", table_name="organization")
    op.drop_table("organization")
