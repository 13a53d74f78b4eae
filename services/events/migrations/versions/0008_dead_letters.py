"""Dead letters: what the consumers gave up on, by topic, reason and region (no message bodies).

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
        "dead_letter",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True, autoincrement=True
        ),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        sa.Column("reason_kind", sa.String(120), nullable=False),
        sa.Column("ce_source", sa.String(200), nullable=True),
        sa.Column("ce_type", sa.String(200), nullable=True),
        sa.Column("ce_id", sa.String(200), nullable=True),
        sa.Column("region_code", sa.String(3), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_dead_letter_region_at", "dead_letter", ["region_code", "at"])


def downgrade() -> None:
    op.drop_index("ix_dead_letter_region_at", table_name="dead_letter")
    op.drop_table("dead_letter")
