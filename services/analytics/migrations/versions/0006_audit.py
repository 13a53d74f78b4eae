"""The audit trail: every service's writes (``setka.audit``), for regional admins to query — newest
first, by region (of the write or of its author), by subject.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

INDEXES = {
    "ix_audit_entry_at": ["at", "entry_id"],
    "ix_audit_entry_region_at": ["region_code", "at"],
    "ix_audit_entry_actor_region_at": ["actor_region_code", "at"],
    "ix_audit_entry_subject_at": ["subject", "at"],
}


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("service", sa.String(), nullable=False),
        sa.Column("operation", sa.String(), nullable=False),
        sa.Column("subject", sa.String(), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("actor_region_code", sa.String(), nullable=True),
        sa.Column("actor_municipality_id", sa.String(), nullable=True),
        sa.Column("actor_organization_id", sa.String(), nullable=True),
        sa.Column("region_code", sa.String(), nullable=True),
        sa.Column("municipality_id", sa.String(), nullable=True),
        sa.Column("organization_ids", sa.JSON(), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("entry_id"),
    )
    for name, columns in INDEXES.items():
        op.create_index(name, "audit_entry", columns)


def downgrade() -> None:
    for name in INDEXES:
        op.drop_index(name, table_name="audit_entry")
    op.drop_table("audit_entry")
