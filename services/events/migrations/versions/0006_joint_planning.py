"""Joint planning: a plan's period (calendar or school year) and version; items' kind (activity or
task), interaction group, withdrawal and being done; items' revisions per version, amendments,
members' proposals; the registry's interaction groups. Items made before are revision 1 of their
plan; groups formed before fill in as the registry's events are replayed.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ITEM_COLUMNS = (
    "kind",
    "interaction_group_id",
    "proposal_id",
    "withdrawn_at",
    "done_at",
    "done_note",
    "done_document_url",
    "done_by",
)


def _when(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _item_state() -> list[sa.Column]:
    return [
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("responsible_organization_id", sa.Uuid(), nullable=True),
        sa.Column("responsible_person", sa.String(200), nullable=True),
        sa.Column("expected_result", sa.String(1000), nullable=True),
        sa.Column("interaction_group_id", sa.Uuid(), nullable=True),
    ]


def upgrade() -> None:
    op.add_column("plan", sa.Column("period", sa.String(20), nullable=False, server_default="calendar_year"))
    op.add_column("plan", sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    op.add_column("plan_item", sa.Column("kind", sa.String(20), nullable=False, server_default="activity"))
    op.add_column("plan_item", sa.Column("interaction_group_id", sa.Uuid(), nullable=True))
    op.add_column("plan_item", sa.Column("proposal_id", sa.Uuid(), nullable=True))
    op.add_column("plan_item", _when("withdrawn_at", nullable=True))
    op.add_column("plan_item", _when("done_at", nullable=True))
    op.add_column("plan_item", sa.Column("done_note", sa.String(2000), nullable=True))
    op.add_column("plan_item", sa.Column("done_document_url", sa.String(1000), nullable=True))
    op.add_column("plan_item", sa.Column("done_by", sa.String(200), nullable=True))
    op.create_table(
        "known_interaction_group",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("network_id", sa.Uuid(), nullable=False, index=True),
        _when("updated_at"),
    )
    revisions = op.create_table(
        "plan_item_revision",
        sa.Column("item_id", sa.Uuid(), sa.ForeignKey("plan_item.id"), primary_key=True),
        sa.Column("version", sa.Integer(), primary_key=True),
        sa.Column("plan_id", sa.Uuid(), sa.ForeignKey("plan.id"), nullable=False, index=True),
        *_item_state(),
        sa.Column("withdrawn", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "plan_amendment",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("plan_id", sa.Uuid(), sa.ForeignKey("plan.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(2000), nullable=False),
        _when("amended_at"),
        sa.UniqueConstraint("plan_id", "version", name="uq_plan_amendment_version"),
    )
    op.create_table(
        "plan_proposal",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("plan_id", sa.Uuid(), sa.ForeignKey("plan.id"), nullable=False, index=True),
        sa.Column("organization_id", sa.Uuid(), nullable=False, index=True),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("responsible_person", sa.String(200), nullable=True),
        sa.Column("expected_result", sa.String(1000), nullable=True),
        sa.Column("interaction_group_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("proposed_by", sa.String(200), nullable=False),
        _when("proposed_at"),
        sa.Column("decided_by", sa.String(200), nullable=True),
        _when("decided_at", nullable=True),
        sa.Column("decision_reason", sa.String(2000), nullable=True),
        sa.Column("item_id", sa.Uuid(), sa.ForeignKey("plan_item.id"), nullable=True),
    )
    items = sa.table(
        "plan_item",
        *(
            sa.column(name)
            for name in ("id", "plan_id", "title", "kind", "due_on", "responsible_organization_id")
        ),
        *(sa.column(name) for name in ("responsible_person", "expected_result", "interaction_group_id")),
    )
    op.execute(
        revisions.insert().from_select(
            [
                "item_id",
                "version",
                "plan_id",
                "title",
                "kind",
                "due_on",
                "responsible_organization_id",
                "responsible_person",
                "expected_result",
                "interaction_group_id",
                "withdrawn",
            ],
            sa.select(
                items.c.id,
                sa.literal(1),
                items.c.plan_id,
                items.c.title,
                items.c.kind,
                items.c.due_on,
                items.c.responsible_organization_id,
                items.c.responsible_person,
                items.c.expected_result,
                items.c.interaction_group_id,
                sa.false(),
            ),
        )
    )


def downgrade() -> None:
    op.drop_table("plan_proposal")
    op.drop_table("plan_amendment")
    op.drop_table("plan_item_revision")
    op.drop_table("known_interaction_group")
    with op.batch_alter_table("plan_item") as batch:
        for name in ITEM_COLUMNS:
            batch.drop_column(name)
    with op.batch_alter_table("plan") as batch:
        batch.drop_column("version")
        batch.drop_column("period")
