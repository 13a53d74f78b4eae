"""The keyed hash of an educator's СНИЛС (HMAC-SHA256 under SNILS_HMAC_KEY), never the number:
how facts of regional systems that name an educator by СНИЛС find them.

Revision ID: 0008
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("educator", sa.Column("snils_hash", sa.String(64), nullable=True))
    op.create_index("ix_educator_snils_hash", "educator", ["snils_hash"])


def downgrade() -> None:
    op.drop_index("ix_educator_snils_hash", "educator")
    op.drop_column("educator", "snils_hash")
