"""Corrections: a network's and an agreement's versions, agreements' amendments, editions and
withdrawal of regulating documents.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("network", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.add_column("network", sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("agreement", sa.Column("version", sa.Integer(), server_default="1", nullable=False))
    op.create_table(
        "agreement_amendment",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("agreement_id", sa.Uuid(), sa.ForeignKey("agreement.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("amended_on", sa.Date(), nullable=False),
        sa.Column("basis", sa.String(1000), nullable=True),
        sa.Column("added_party_ids", sa.JSON(), nullable=False),
        sa.Column("removed_party_ids", sa.JSON(), nullable=False),
        sa.Column("subject_before", sa.String(2000), nullable=True),
        sa.Column("valid_to_before", sa.Date(), nullable=True),
        sa.Column("valid_to_after", sa.Date(), nullable=True),
        sa.Column("changes_valid_to", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("agreement_id", "version", name="uq_agreement_amendment_version"),
    )
    op.create_index("ix_agreement_amendment_agreement_id", "agreement_amendment", ["agreement_id"])
    op.add_column("regulation", sa.Column("status", sa.String(20), server_default="in_force", nullable=False))
    op.add_column("regulation", sa.Column("edition", sa.Integer(), server_default="1", nullable=False))
    op.add_column("regulation", sa.Column("first_edition_id", sa.Uuid(), nullable=True))
    op.add_column("regulation", sa.Column("supersedes_id", sa.Uuid(), nullable=True))
    op.add_column("regulation", sa.Column("superseded_by_id", sa.Uuid(), nullable=True))
    op.add_column("regulation", sa.Column("withdrawn_on", sa.Date(), nullable=True))
    op.add_column("regulation", sa.Column("withdrawal_reason", sa.String(1000), nullable=True))
    op.execute("UPDATE regulation SET first_edition_id = id")
    op.create_index("ix_regulation_first_edition_id", "regulation", ["first_edition_id"])


def downgrade() -> None:
    op.drop_index("ix_regulation_first_edition_id", table_name="regulation")
    with op.batch_alter_table("regulation") as batch:
        for column in (
            "withdrawal_reason",
            "withdrawn_on",
            "superseded_by_id",
            "supersedes_id",
            "first_edition_id",
            "edition",
            "status",
        ):
            batch.drop_column(column)
    op.drop_index("ix_agreement_amendment_agreement_id", table_name="agreement_amendment")
    op.drop_table("agreement_amendment")
    with op.batch_alter_table("agreement") as batch:
        batch.drop_column("version")
    with op.batch_alter_table("network") as batch:
        batch.drop_column("updated_at")
        batch.drop_column("version")
