"""Corrections: the version of a network and of a mobility record as their services corrected
them; a mobility deleted as a mistake.

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("network", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("mobility", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("mobility", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mobility") as batch:
        batch.drop_column("deleted_at")
        batch.drop_column("version")
    with op.batch_alter_table("network") as batch:
        batch.drop_column("version")
