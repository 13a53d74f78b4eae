"""Local copy of networks, memberships and educators; plans, activities, participation,
regional facts; the waiting room of deferred messages.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from setka_runtime.deferred import create_deferred_table, drop_deferred_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    create_deferred_table(op)
    op.add_column("known_organization", sa.Column("municipality", sa.String(200), nullable=True))
    op.add_column("known_organization", _when("archived_at", nullable=True))
    op.create_table(
        "known_network",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("level", sa.String(40), nullable=False),
        sa.Column("region_code", sa.String(3), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        _when("updated_at"),
    )
    op.create_table(
        "known_membership",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("network_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        _when("updated_at"),
    )
    op.create_table(
        "known_educator",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("subjects", sa.JSON(), nullable=False),
        _when("updated_at"),
    )
    op.create_table(
        "known_employment",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("educator_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
    )
    op.create_table(
        "plan",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("network_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        _when("created_at"),
        _when("updated_at"),
        sa.UniqueConstraint("network_id", "year", name="uq_plan_network_year"),
    )
    op.create_table(
        "plan_item",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("plan_id", sa.Uuid(), sa.ForeignKey("plan.id"), nullable=False, index=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("responsible_organization_id", sa.Uuid(), nullable=True),
        sa.Column("responsible_person", sa.String(200), nullable=True),
        sa.Column("expected_result", sa.String(1000), nullable=True),
        _when("created_at"),
    )
    op.create_table(
        "activity",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("activity_type", sa.String(40), nullable=False, index=True),
        sa.Column("processes", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("location", sa.String(500), nullable=True),
        sa.Column("host_organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("network_id", sa.Uuid(), nullable=True, index=True),
        sa.Column("plan_item_id", sa.Uuid(), sa.ForeignKey("plan_item.id"), nullable=True, index=True),
        sa.Column("responsible_educator_id", sa.Uuid(), nullable=True),
        _when("starts_at"),
        _when("ends_at"),
        sa.Column("audience", sa.String(500), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False, index=True),
        sa.Column("status_reason", sa.String(1000), nullable=True),
        sa.Column("report", sa.Text(), nullable=True),
        sa.Column("source_system", sa.String(100), nullable=True),
        sa.Column("external_id", sa.String(200), nullable=True),
        _when("source_updated_at", nullable=True),
        _when("created_at"),
        _when("updated_at"),
        sa.UniqueConstraint("source_system", "external_id", name="uq_activity_source"),
    )
    op.create_index("ix_activity_starts_at", "activity", ["starts_at"])
    op.create_table(
        "material",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("activity_id", sa.Uuid(), sa.ForeignKey("activity.id"), nullable=False, index=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("url", sa.String(1000), nullable=False),
        _when("created_at"),
    )
    for name in ("registration", "attendance"):
        extra = (
            [
                sa.Column("hours", sa.Float(), nullable=False),
                sa.Column("source_system", sa.String(100), nullable=True),
                _when("recorded_at"),
            ]
            if name == "attendance"
            else [_when("created_at")]
        )
        op.create_table(
            name,
            sa.Column("id", sa.Uuid(), primary_key=True),
            sa.Column("activity_id", sa.Uuid(), sa.ForeignKey("activity.id"), nullable=False, index=True),
            sa.Column("organization_id", sa.Uuid(), nullable=False, index=True),
            sa.Column("educator_id", sa.Uuid(), nullable=True, index=True),
            sa.Column("participant", sa.String(80), nullable=False),
            *extra,
            sa.UniqueConstraint("activity_id", "participant", name=f"uq_{name}_participant"),
        )
    op.create_table(
        "feedback",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("activity_id", sa.Uuid(), sa.ForeignKey("activity.id"), nullable=False, index=True),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(2000), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        _when("created_at"),
    )
    op.create_table(
        "mobility",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("home_organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("host_organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("network_id", sa.Uuid(), nullable=True, index=True),
        sa.Column("programme", sa.String(500), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        _when("created_at"),
    )
    op.create_table(
        "assessment_result",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("procedure", sa.String(30), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("mean_score", sa.Float(), nullable=False),
        sa.Column("mark_shares", sa.JSON(), nullable=False),
        sa.Column("source_system", sa.String(100), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        _when("recorded_at"),
        sa.UniqueConstraint(
            "organization_id", "procedure", "subject", "grade", "year", name="uq_assessment_result"
        ),
    )
    for name, columns in (
        (
            "training",
            [
                sa.Column("course", sa.String(500), nullable=False),
                sa.Column("provider", sa.String(300), nullable=False),
                sa.Column("hours", sa.Integer(), nullable=False),
                sa.Column("completed_on", sa.Date(), nullable=False),
            ],
        ),
        (
            "deficit",
            [
                sa.Column("competency", sa.String(300), nullable=False),
                sa.Column("level", sa.String(20), nullable=False),
                sa.Column("diagnosed_on", sa.Date(), nullable=False),
            ],
        ),
    ):
        op.create_table(
            name,
            sa.Column("id", sa.Uuid(), primary_key=True),
            sa.Column("educator_id", sa.Uuid(), nullable=False, index=True),
            sa.Column("organization_id", sa.Uuid(), nullable=False, index=True),
            *columns,
            sa.Column("source_system", sa.String(100), nullable=False),
            sa.Column("external_id", sa.String(200), nullable=False),
            _when("recorded_at"),
            sa.UniqueConstraint("source_system", "external_id", name=f"uq_{name}_source"),
        )
    op.create_table(
        "demo_load",
        sa.Column("name", sa.String(50), primary_key=True),
        _when("loaded_at"),
    )


def downgrade() -> None:
    for name in (
        "demo_load",
        "deficit",
        "training",
        "assessment_result",
        "mobility",
        "feedback",
        "attendance",
        "registration",
        "material",
        "activity",
        "plan_item",
        "plan",
        "known_employment",
        "known_educator",
        "known_membership",
        "known_network",
    ):
        op.drop_table(name)
    with op.batch_alter_table("known_organization") as batch:
        batch.drop_column("archived_at")
        batch.drop_column("municipality")
    drop_deferred_table(op)
