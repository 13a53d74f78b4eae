"""Corrections: a mobility record's version, its deletion as a mistake; the version of a network
the registry corrected.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("mobility", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("mobility", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("mobility", sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("mobility", sa.Column("change_reason", sa.String(1000), nullable=True))
    op.add_column("known_network", sa.Column("version", sa.Integer(), server_default="1", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("known_network") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("mobility") as batch:
        for column in ("change_reason", "deleted_at", "updated_at", "version"):
            batch.drop_column(column)
