"""Erasure of an educator's personal data (152-ФЗ): when, why, and on whose request or by retention.

Revision ID: 0007
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("educator", sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("educator", sa.Column("erasure_cause", sa.String(20), nullable=True))
    op.add_column("educator", sa.Column("erasure_reason", sa.String(500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("educator") as batch:
        batch.drop_column("erasure_reason")
        batch.drop_column("erasure_cause")
        batch.drop_column("erased_at")
