"""Notifications: the list, read marks, people's preferences (with their address), e-mails and
their sending state, plan items told they fall due; the official address of an organization and
the coordinator of a network in the registry copy.

Revision ID: 0011
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def _when(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("known_organization", sa.Column("email", sa.String(200), nullable=True))
    op.add_column("known_network", sa.Column("coordinator_id", sa.Uuid(), nullable=True))
    op.create_table(
        "notification",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("recipient_kind", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("text", sa.String(4000), nullable=False),
        sa.Column("link", sa.String(1000), nullable=True),
        sa.Column("source", sa.String(300), nullable=False),
        _when("created_at"),
    )
    op.create_index("ix_notification_recipient", "notification", ["recipient"])
    op.create_index("ix_notification_created_at", "notification", ["created_at"])
    op.create_table(
        "notification_read",
        sa.Column("notification_id", sa.Uuid(), sa.ForeignKey("notification.id"), primary_key=True),
        sa.Column("subject", sa.String(200), primary_key=True),
        _when("read_at"),
    )
    op.create_table(
        "notification_preference",
        sa.Column("subject", sa.String(200), primary_key=True),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("organization_id", sa.Uuid(), nullable=True),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("digest", sa.Boolean(), nullable=False),
        sa.Column("muted_kinds", sa.JSON(), nullable=False),
        _when("updated_at"),
    )
    op.create_index(
        "ix_notification_preference_organization_id", "notification_preference", ["organization_id"]
    )
    op.create_table(
        "email_message",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("recipient", sa.String(250), nullable=False),
        sa.Column("source", sa.String(300), nullable=False),
        sa.Column("address", sa.String(254), nullable=False),
        sa.Column("subject_line", sa.String(500), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("html", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _when("not_before"),
        _when("sending_since", nullable=True),
        _when("sent_at", nullable=True),
        sa.Column("error", sa.String(1000), nullable=True),
        sa.Column("digest_day", sa.Date(), nullable=True),
        _when("created_at"),
        sa.UniqueConstraint("recipient", "source", name="uq_email_message_recipient_source"),
    )
    op.create_index("ix_email_message_status", "email_message", ["status"])
    op.create_table(
        "plan_item_due_notice",
        sa.Column("item_id", sa.Uuid(), primary_key=True),
        _when("noticed_at"),
    )


def downgrade() -> None:
    for table in ("plan_item_due_notice", "email_message", "notification_preference", "notification_read"):
        op.drop_table(table)
    op.drop_table("notification")
    with op.batch_alter_table("known_network") as batch:
        batch.drop_column("coordinator_id")
    with op.batch_alter_table("known_organization") as batch:
        batch.drop_column("email")
