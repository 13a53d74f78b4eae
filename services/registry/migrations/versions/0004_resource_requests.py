"""Requests for partners' resources and their uses (обмен ресурсами в сети).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _ref(name: str, target: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.Uuid(), sa.ForeignKey(f"{target}.id"), nullable=nullable)


def _stamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "resource_request",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _ref("resource_id", "resource"),
        _ref("owner_id", "organization"),
        _ref("requester_id", "organization"),
        _ref("network_id", "network"),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("purpose", sa.String(2000), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        _stamp("requested_at"),
        _stamp("decided_at", nullable=True),
        sa.Column("decline_reason", sa.String(2000), nullable=True),
        _stamp("cancelled_at", nullable=True),
        _ref("cancelled_by_id", "organization", nullable=True),
        sa.Column("cancel_reason", sa.String(2000), nullable=True),
        sa.CheckConstraint("ends_on >= starts_on", name="ck_resource_request_days"),
    )
    op.create_index("ix_resource_request_booking", "resource_request", ["resource_id", "status", "starts_on"])
    op.create_index("ix_resource_request_owner_id", "resource_request", ["owner_id"])
    op.create_index("ix_resource_request_requester_id", "resource_request", ["requester_id"])
    op.create_index("ix_resource_request_network_id", "resource_request", ["network_id"])
    op.create_table(
        "resource_use",
        sa.Column("id", sa.Uuid(), primary_key=True),
        _ref("request_id", "resource_request"),
        _ref("resource_id", "resource"),
        sa.Column("used_from", sa.Date(), nullable=False),
        sa.Column("used_to", sa.Date(), nullable=False),
        sa.Column("note", sa.String(1000), nullable=False),
        sa.Column("figure", sa.Float(), nullable=True),
        _ref("recorded_by_id", "organization"),
        _stamp("recorded_at"),
        sa.CheckConstraint("used_to >= used_from", name="ck_resource_use_days"),
    )
    op.create_index("ix_resource_use_request_id", "resource_use", ["request_id"])
    op.create_index("ix_resource_use_resource_id", "resource_use", ["resource_id"])


def downgrade() -> None:
    op.drop_table("resource_use")
    op.drop_table("resource_request")
