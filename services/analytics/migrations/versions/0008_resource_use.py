"""Uses of partners' resources (from the registry's resource.used events), which count in the
activation of centres and partners.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "resource_use",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("request_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=False),
        sa.Column("resource_kind", sa.String(20), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("requester_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=True),
        sa.Column("used_from", sa.Date(), nullable=False),
        sa.Column("used_to", sa.Date(), nullable=False),
        sa.Column("figure", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_resource_use_owner_day", "resource_use", ["owner_id", "used_from"])
    op.create_index("ix_resource_use_requester_id", "resource_use", ["requester_id"])


def downgrade() -> None:
    op.drop_table("resource_use")
