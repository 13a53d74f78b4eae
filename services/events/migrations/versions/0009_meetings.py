"""Meetings of a network's council or methodological association: the meeting (its agenda, place
or link, minutes), its participants and its decisions; a plan item or a proposal refers to the
decision it carries out.

Revision ID: 0009
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "meeting",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("network_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        _when("starts_at"),
        _when("ends_at", nullable=True),
        sa.Column("place", sa.String(500), nullable=True),
        sa.Column("online_link", sa.String(1000), nullable=True),
        sa.Column("interaction_group_id", sa.Uuid(), nullable=True),
        sa.Column("agenda", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("status_reason", sa.String(1000), nullable=True),
        sa.Column("minutes", sa.Text(), nullable=True),
        _when("held_at", nullable=True),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_index("ix_meeting_starts_at", "meeting", ["starts_at"])
    op.create_index("ix_meeting_status", "meeting", ["status"])
    op.create_table(
        "meeting_participant",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("meeting_id", sa.Uuid(), sa.ForeignKey("meeting.id"), nullable=False, index=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("educator_id", sa.Uuid(), nullable=True),
        sa.Column("participant", sa.String(80), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.UniqueConstraint("meeting_id", "participant", name="uq_meeting_participant"),
    )
    op.create_table(
        "meeting_decision",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("meeting_id", sa.Uuid(), sa.ForeignKey("meeting.id"), nullable=False, index=True),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.Column("responsible_organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("due_on", sa.Date(), nullable=False, index=True),
        _when("created_at"),
        sa.UniqueConstraint("meeting_id", "number", name="uq_meeting_decision_number"),
    )
    for table in ("plan_item", "plan_proposal"):
        op.add_column(table, sa.Column("decision_id", sa.Uuid(), nullable=True))
        op.create_index(f"ix_{table}_decision_id", table, ["decision_id"])


def downgrade() -> None:
    for table in ("plan_proposal", "plan_item"):
        op.drop_index(f"ix_{table}_decision_id", table_name=table)
        with op.batch_alter_table(table) as batch:
            batch.drop_column("decision_id")
    op.drop_table("meeting_decision")
    op.drop_table("meeting_participant")
    op.drop_index("ix_meeting_status", table_name="meeting")
    op.drop_index("ix_meeting_starts_at", table_name="meeting")
    op.drop_table("meeting")
