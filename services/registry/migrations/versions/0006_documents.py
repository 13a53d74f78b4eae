"""Documents: files attached to what the registry service owns (their bytes are in the store).

Revision ID: 0006
Revises: 0005
"""

from alembic import op
from setka_runtime.documents import create_document_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_document_table(op)


def downgrade() -> None:
    op.drop_index("ix_document_owner_id", "document")
    op.drop_table("document")
