"""The registry copy keeps the municipality id of organizations and networks: a municipal
coordinator's scope. Copies made before fill in as the registry's events are replayed.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TABLES = ("known_organization", "known_network")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("municipality_id", sa.Uuid(), nullable=True))
        op.create_index(f"ix_{table}_municipality_id", table, ["municipality_id"])


def downgrade() -> None:
    for table in TABLES:
        op.drop_index(f"ix_{table}_municipality_id", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("municipality_id")
