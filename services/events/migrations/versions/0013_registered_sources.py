"""Registered sources of regional facts and their grants; identities as regions hold them: the
ОГРН and federal school code of an organization, the keyed hash of an educator's СНИЛС, and the
mappings of sending systems' own ids.

Revision ID: 0013
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0011"
branch_labels = None
depends_on = None


def _when(name: str) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.add_column("known_organization", sa.Column("ogrn", sa.String(13), nullable=True))
    op.add_column("known_organization", sa.Column("school_code", sa.String(40), nullable=True))
    op.create_index("ix_known_organization_ogrn", "known_organization", ["ogrn"])
    op.create_index("ix_known_organization_school_code", "known_organization", ["school_code"])
    op.add_column("known_educator", sa.Column("snils_hash", sa.String(64), nullable=True))
    op.create_index("ix_known_educator_snils_hash", "known_educator", ["snils_hash"])
    op.create_table(
        "registered_source",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("ce_source", sa.String(200), nullable=False, unique=True),
        sa.Column("region_code", sa.String(3), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        _when("created_at"),
        _when("updated_at"),
    )
    op.create_index("ix_registered_source_region_code", "registered_source", ["region_code"])
    op.create_table(
        "source_grant",
        sa.Column(
            "source_id",
            sa.Uuid(),
            sa.ForeignKey("registered_source.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("value", sa.String(200), primary_key=True),
        _when("granted_at"),
    )
    op.create_table(
        "identity_mapping",
        sa.Column("kind", sa.String(20), primary_key=True),
        sa.Column("source_system", sa.String(100), primary_key=True),
        sa.Column("external_id", sa.String(200), primary_key=True),
        sa.Column("setka_id", sa.Uuid(), nullable=False),
        _when("learned_at"),
    )
    op.create_index("ix_identity_mapping_setka_id", "identity_mapping", ["setka_id"])


def downgrade() -> None:
    op.drop_table("identity_mapping")
    op.drop_table("source_grant")
    op.drop_table("registered_source")
    op.drop_index("ix_known_educator_snils_hash", "known_educator")
    op.drop_column("known_educator", "snils_hash")
    op.drop_index("ix_known_organization_school_code", "known_organization")
    op.drop_index("ix_known_organization_ogrn", "known_organization")
    op.drop_column("known_organization", "school_code")
    op.drop_column("known_organization", "ogrn")
