"""Read models for the effectiveness analysis: statuses, risk profiles, networks, memberships,
educators (ids only), employments, resources, activities, attendance, feedback, plans, mobility,
assessment results, trainings, deficits and alerts, all kept from the registry's and the events
service's events.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activity",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=True),
        sa.Column("host_organization_id", sa.Uuid(), nullable=False),
        sa.Column("plan_item_id", sa.Uuid(), nullable=True),
        sa.Column("activity_type", sa.String(60), nullable=False),
        sa.Column("processes", sa.JSON(), nullable=False),
        sa.Column("format", sa.String(20), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_activity_host_organization_id"), ["host_organization_id"], unique=False
        )
        batch_op.create_index("ix_activity_network_starts", ["network_id", "starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_activity_plan_item_id"), ["plan_item_id"], unique=False)

    op.create_table(
        "alert",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule", sa.String(60), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("network_id", sa.Uuid(), nullable=True),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_network_id"), ["network_id"], unique=False)
        batch_op.create_index("ix_alert_open", ["rule", "subject_id", "resolved_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_alert_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "assessment_result",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("procedure", sa.String(40), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("mean_score", sa.Float(), nullable=False),
        sa.Column("lowest_mark_share", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assessment_result", schema=None) as batch_op:
        batch_op.create_index("ix_assessment_org_year", ["organization_id", "year"], unique=False)

    op.create_table(
        "attendance",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("educator_id", sa.Uuid(), nullable=True),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.Column("activity_day", sa.Date(), nullable=False),
        sa.Column("host_organization_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attendance_activity_id"), ["activity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_attendance_educator_id"), ["educator_id"], unique=False)
        batch_op.create_index("ix_attendance_network_day", ["network_id", "activity_day"], unique=False)
        batch_op.create_index("ix_attendance_org_day", ["organization_id", "activity_day"], unique=False)

    op.create_table(
        "deficit",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("educator_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("competency", sa.String(300), nullable=False),
        sa.Column("level", sa.String(40), nullable=False),
        sa.Column("diagnosed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("deficit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_deficit_educator_id"), ["educator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_deficit_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "educator",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("qualification_category", sa.String(40), nullable=True),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "employment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("educator_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("employment", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_employment_educator_id"), ["educator_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_employment_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "feedback",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("activity_id", sa.Uuid(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_feedback_activity_id"), ["activity_id"], unique=False)

    op.create_table(
        "membership",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.create_index("ix_membership_network_org", ["network_id", "organization_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_membership_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "mobility",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("home_organization_id", sa.Uuid(), nullable=False),
        sa.Column("host_organization_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=True),
        sa.Column("programme", sa.String(500), nullable=False),
        sa.Column("participants", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("hours", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("mobility", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mobility_home_organization_id"), ["home_organization_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_mobility_host_organization_id"), ["host_organization_id"], unique=False
        )

    op.create_table(
        "network",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("level", sa.String(40), nullable=False),
        sa.Column("region_code", sa.String(3), nullable=False),
        sa.Column("municipality_id", sa.Uuid(), nullable=True),
        sa.Column("governing_body_id", sa.Uuid(), nullable=True),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("network", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_network_region_code"), ["region_code"], unique=False)

    op.create_table(
        "organization_status",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("entered_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("organization_id", "status", "entered_on"),
    )
    op.create_table(
        "plan",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_network_id"), ["network_id"], unique=False)

    op.create_table(
        "plan_item",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("plan_id", sa.Uuid(), nullable=False),
        sa.Column("network_id", sa.Uuid(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("responsible_organization_id", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("plan_item", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_item_network_id"), ["network_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_plan_item_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "resource",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("available_from", sa.Date(), nullable=True),
        sa.Column("available_to", sa.Date(), nullable=True),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_resource_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "risk_profile",
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        sa.Column("factors", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    op.create_table(
        "training",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("educator_id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("course", sa.String(500), nullable=False),
        sa.Column("hours", sa.Integer(), nullable=False),
        sa.Column("completed_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("training", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_educator_id"), ["educator_id"], unique=False)

    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.add_column(sa.Column("short_name", sa.String(500), nullable=True))
        batch_op.add_column(sa.Column("municipality", sa.String(200), nullable=True))
        batch_op.add_column(sa.Column("municipality_id", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("archived_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_organization_municipality_id"), ["municipality_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("organization", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_organization_municipality_id"))
        batch_op.drop_column("archived_at")
        batch_op.drop_column("municipality_id")
        batch_op.drop_column("municipality")
        batch_op.drop_column("short_name")

    with op.batch_alter_table("training", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_educator_id"))

    op.drop_table("training")
    op.drop_table("risk_profile")
    with op.batch_alter_table("resource", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_resource_owner_id"))

    op.drop_table("resource")
    with op.batch_alter_table("plan_item", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_item_plan_id"))
        batch_op.drop_index(batch_op.f("ix_plan_item_network_id"))

    op.drop_table("plan_item")
    with op.batch_alter_table("plan", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_network_id"))

    op.drop_table("plan")
    op.drop_table("organization_status")
    with op.batch_alter_table("network", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_network_region_code"))

    op.drop_table("network")
    with op.batch_alter_table("mobility", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mobility_host_organization_id"))
        batch_op.drop_index(batch_op.f("ix_mobility_home_organization_id"))

    op.drop_table("mobility")
    with op.batch_alter_table("membership", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_membership_organization_id"))
        batch_op.drop_index("ix_membership_network_org")

    op.drop_table("membership")
    with op.batch_alter_table("feedback", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_feedback_activity_id"))

    op.drop_table("feedback")
    with op.batch_alter_table("employment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_employment_organization_id"))
        batch_op.drop_index(batch_op.f("ix_employment_educator_id"))

    op.drop_table("employment")
    op.drop_table("educator")
    with op.batch_alter_table("deficit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_deficit_organization_id"))
        batch_op.drop_index(batch_op.f("ix_deficit_educator_id"))

    op.drop_table("deficit")
    with op.batch_alter_table("attendance", schema=None) as batch_op:
        batch_op.drop_index("ix_attendance_org_day")
        batch_op.drop_index("ix_attendance_network_day")
        batch_op.drop_index(batch_op.f("ix_attendance_educator_id"))
        batch_op.drop_index(batch_op.f("ix_attendance_activity_id"))

    op.drop_table("attendance")
    with op.batch_alter_table("assessment_result", schema=None) as batch_op:
        batch_op.drop_index("ix_assessment_org_year")

    op.drop_table("assessment_result")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_organization_id"))
        batch_op.drop_index("ix_alert_open")
        batch_op.drop_index(batch_op.f("ix_alert_network_id"))

    op.drop_table("alert")
    with op.batch_alter_table("activity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activity_plan_item_id"))
        batch_op.drop_index("ix_activity_network_starts")
        batch_op.drop_index(batch_op.f("ix_activity_host_organization_id"))

    op.drop_table("activity")
