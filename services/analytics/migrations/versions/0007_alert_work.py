"""Alerts people work with: who acknowledged, assigned and snoozed an alert and when, comments on
alerts, the school holidays of each region the rules count around, and the titles of plan items
and activities the alerts' text names.

Plan items and activities kept before this revision have no title (their alerts name them by
their day) until the events service's events are read again (``rebuild``).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

WORK = {
    "acknowledged_at": lambda: sa.DateTime(timezone=True),
    "acknowledged_by": lambda: sa.String(200),
    "assignee_organization_id": sa.Uuid,
    "assignee_subject": lambda: sa.String(200),
    "assigned_at": lambda: sa.DateTime(timezone=True),
    "assigned_by": lambda: sa.String(200),
    "snoozed_until": sa.Date,
    "snoozed_at": lambda: sa.DateTime(timezone=True),
    "snoozed_by": lambda: sa.String(200),
}
"""The alert's new columns (all nullable), each with its type."""


def upgrade() -> None:
    with op.batch_alter_table("alert", schema=None) as batch_op:
        for name, kind in WORK.items():
            batch_op.add_column(sa.Column(name, kind(), nullable=True))
    for table in ("plan_item", "activity"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("title", sa.String(500), nullable=True))
    op.create_table(
        "alert_comment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("alert_id", sa.Uuid(), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.String(2000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alert_comment_alert_at", "alert_comment", ["alert_id", "at"])
    op.create_table(
        "school_break",
        sa.Column("region_code", sa.String(3), nullable=False),
        sa.Column("school_year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("set_by", sa.String(200), nullable=False),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("region_code", "school_year", "kind"),
    )


def downgrade() -> None:
    op.drop_table("school_break")
    op.drop_index("ix_alert_comment_alert_at", table_name="alert_comment")
    op.drop_table("alert_comment")
    for table in ("activity", "plan_item"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("title")
    with op.batch_alter_table("alert", schema=None) as batch_op:
        for name in reversed(WORK):
            batch_op.drop_column(name)
