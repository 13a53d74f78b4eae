"""The participants domain: reference data, organization details and external ids, statuses,
risk profiles, educators and their employments, networks and memberships, agreements,
regulations, resources, interaction groups.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _id(name: str = "id") -> sa.Column:
    return sa.Column(name, sa.Uuid(), primary_key=True)


def _ref(name: str, target: str, *, nullable: bool = False, ondelete: str | None = None) -> sa.Column:
    return sa.Column(name, sa.Uuid(), sa.ForeignKey(f"{target}.id", ondelete=ondelete), nullable=nullable)


def _stamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "region",
        sa.Column("code", sa.String(3), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )
    op.create_table(
        "municipality",
        _id(),
        sa.Column("region_code", sa.String(3), sa.ForeignKey("region.code"), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("oktmo", sa.String(11), nullable=True),
        sa.UniqueConstraint("region_code", "name", name="uq_municipality_region_name"),
    )
    op.create_index("ix_municipality_region_code", "municipality", ["region_code"])

    with op.batch_alter_table("organization") as batch:
        batch.add_column(sa.Column("municipality_id", sa.Uuid(), nullable=True))
        batch.add_column(sa.Column("ogrn", sa.String(13), nullable=True))
        batch.add_column(sa.Column("school_code", sa.String(20), nullable=True))
        batch.add_column(sa.Column("address", sa.String(500), nullable=True))
        batch.add_column(sa.Column("website", sa.String(300), nullable=True))
        batch.add_column(sa.Column("email", sa.String(200), nullable=True))
        batch.add_column(sa.Column("phone", sa.String(50), nullable=True))
        batch.add_column(sa.Column("search_text", sa.String(1000), nullable=False, server_default=""))
        batch.add_column(_stamp("updated_at", nullable=True))
        batch.create_foreign_key("fk_organization_municipality", "municipality", ["municipality_id"], ["id"])
    op.create_index("ix_organization_municipality_id", "organization", ["municipality_id"])
    op.create_index("uq_organization_ogrn", "organization", ["ogrn"], unique=True)
    op.create_index("uq_organization_school_code", "organization", ["school_code"], unique=True)
    _backfill_search_text()

    op.create_table(
        "organization_status",
        _id(),
        _ref("organization_id", "organization"),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("entered_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("basis", sa.String(300), nullable=True),
        _stamp("recorded_at"),
    )
    op.create_index(
        "ix_organization_status_lookup", "organization_status", ["organization_id", "status", "entered_on"]
    )

    op.create_table(
        "risk_profile",
        _id(),
        _ref("organization_id", "organization"),
        sa.Column("assessed_on", sa.Date(), nullable=False),
        _stamp("recorded_at"),
        sa.UniqueConstraint("organization_id", "assessed_on", name="uq_risk_profile_date"),
    )
    op.create_index("ix_risk_profile_organization_id", "risk_profile", ["organization_id"])
    op.create_table(
        "risk_factor_level",
        sa.Column(
            "profile_id",
            sa.Uuid(),
            sa.ForeignKey("risk_profile.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("factor", sa.String(80), primary_key=True),
        sa.Column("level", sa.String(10), nullable=False),
    )
    op.create_index("ix_risk_factor_level_factor", "risk_factor_level", ["factor", "level"])

    op.create_table(
        "educator",
        _id(),
        sa.Column("external_id", sa.String(100), nullable=True, unique=True),
        sa.Column("last_name", sa.String(100), nullable=False),
        sa.Column("first_name", sa.String(100), nullable=False),
        sa.Column("middle_name", sa.String(100), nullable=True),
        sa.Column("qualification_category", sa.String(20), nullable=False),
        sa.Column("subjects", sa.JSON(), nullable=False),
        sa.Column("search_text", sa.String(400), nullable=False),
        _stamp("created_at"),
        _stamp("updated_at", nullable=True),
    )
    op.create_index("ix_educator_last_name", "educator", ["last_name"])
    op.create_table(
        "employment",
        _id(),
        _ref("educator_id", "educator"),
        _ref("organization_id", "organization"),
        sa.Column("position", sa.String(200), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
    )
    op.create_index("ix_employment_educator_id", "employment", ["educator_id"])
    op.create_index("ix_employment_organization_id", "employment", ["organization_id"])

    op.create_table(
        "network",
        _id(),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("region_code", sa.String(3), nullable=False),
        _ref("municipality_id", "municipality", nullable=True),
        _ref("governing_body_id", "organization"),
        _ref("coordinator_id", "organization", nullable=True),
        sa.Column("started_on", sa.Date(), nullable=False),
        sa.Column("ended_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("search_text", sa.String(500), nullable=False),
        _stamp("created_at"),
    )
    op.create_index("ix_network_name", "network", ["name"])
    op.create_index("ix_network_level", "network", ["level"])
    op.create_index("ix_network_region_code", "network", ["region_code"])
    op.create_table(
        "membership",
        _id(),
        _ref("network_id", "network"),
        _ref("organization_id", "organization"),
        sa.Column("role", sa.String(40), nullable=False),
        sa.Column("joined_on", sa.Date(), nullable=False),
        sa.Column("left_on", sa.Date(), nullable=True),
    )
    op.create_index("ix_membership_network_organization", "membership", ["network_id", "organization_id"])
    op.create_index("ix_membership_organization_id", "membership", ["organization_id"])

    op.create_table(
        "agreement",
        _id(),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("signed_on", sa.Date(), nullable=False),
        sa.Column("subject", sa.String(2000), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        _ref("network_id", "network", nullable=True),
        _stamp("created_at"),
    )
    op.create_index("ix_agreement_network_id", "agreement", ["network_id"])
    op.create_table(
        "agreement_party",
        sa.Column(
            "agreement_id", sa.Uuid(), sa.ForeignKey("agreement.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("organization_id", sa.Uuid(), sa.ForeignKey("organization.id"), primary_key=True),
    )
    op.create_index("ix_agreement_party_organization_id", "agreement_party", ["organization_id"])

    op.create_table(
        "regulation",
        _id(),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("number", sa.String(100), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        _ref("issuer_id", "organization"),
        sa.Column("title", sa.String(1000), nullable=False),
        sa.Column("link", sa.String(1000), nullable=True),
        _ref("network_id", "network", nullable=True),
        _stamp("created_at"),
    )
    op.create_index("ix_regulation_issuer_id", "regulation", ["issuer_id"])
    op.create_index("ix_regulation_network_id", "regulation", ["network_id"])

    op.create_table(
        "resource",
        _id(),
        sa.Column("kind", sa.String(20), nullable=False),
        _ref("owner_id", "organization"),
        sa.Column("title", sa.String(500), nullable=False),
        sa.Column("description", sa.String(4000), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("available_from", sa.Date(), nullable=True),
        sa.Column("available_to", sa.Date(), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("search_text", sa.String(600), nullable=False),
        _stamp("created_at"),
        _stamp("withdrawn_at", nullable=True),
    )
    op.create_index("ix_resource_kind", "resource", ["kind"])
    op.create_index("ix_resource_owner_id", "resource", ["owner_id"])
    op.create_table(
        "resource_subject",
        sa.Column(
            "resource_id", sa.Uuid(), sa.ForeignKey("resource.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("subject", sa.String(100), primary_key=True),
    )
    op.create_index("ix_resource_subject_subject", "resource_subject", ["subject"])

    op.create_table(
        "interaction_group",
        _id(),
        _ref("network_id", "network"),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("purpose", sa.String(2000), nullable=False),
        _stamp("created_at"),
    )
    op.create_index("ix_interaction_group_network_id", "interaction_group", ["network_id"])
    op.create_table(
        "interaction_group_member",
        _id(),
        _ref("group_id", "interaction_group", ondelete="CASCADE"),
        _ref("educator_id", "educator", nullable=True),
        _ref("organization_id", "organization", nullable=True),
        sa.UniqueConstraint("group_id", "educator_id", name="uq_group_educator"),
        sa.UniqueConstraint("group_id", "organization_id", name="uq_group_organization"),
        sa.CheckConstraint(
            "(educator_id IS NULL) <> (organization_id IS NULL)", name="ck_group_member_one_kind"
        ),
    )
    op.create_index("ix_interaction_group_member_group_id", "interaction_group_member", ["group_id"])


def _backfill_search_text() -> None:
    """Case folding is done in Python: SQLite's lower() leaves Cyrillic as it is."""
    bind = op.get_bind()
    table = sa.table(
        "organization",
        sa.column("id", sa.Uuid()),
        sa.column("full_name", sa.String()),
        sa.column("short_name", sa.String()),
        sa.column("inn", sa.String()),
        sa.column("search_text", sa.String()),
    )
    rows = bind.execute(sa.select(table.c.id, table.c.full_name, table.c.short_name, table.c.inn)).all()
    for row in rows:
        text = " ".join(part for part in (row.full_name, row.short_name, row.inn) if part).casefold()
        bind.execute(table.update().where(table.c.id == row.id).values(search_text=text.replace("ё", "е")))


def downgrade() -> None:
    for name in (
        "interaction_group_member",
        "interaction_group",
        "resource_subject",
        "resource",
        "regulation",
        "agreement_party",
        "agreement",
        "membership",
        "network",
        "employment",
        "educator",
        "risk_factor_level",
        "risk_profile",
        "organization_status",
    ):
        op.drop_table(name)
    op.drop_index("uq_organization_school_code", "organization")
    op.drop_index("uq_organization_ogrn", "organization")
    op.drop_index("ix_organization_municipality_id", "organization")
    with op.batch_alter_table("organization") as batch:
        batch.drop_constraint("fk_organization_municipality", type_="foreignkey")
        for column in (
            "updated_at",
            "search_text",
            "phone",
            "email",
            "website",
            "address",
            "school_code",
            "ogrn",
            "municipality_id",
        ):
            batch.drop_column(column)
    op.drop_table("municipality")
    op.drop_table("region")
