"""Documents: files attached to what the events service owns (their bytes are in the store).

Revision ID: 0010
Revises: 0007
"""

from alembic import op
from setka_runtime.documents import create_document_table

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_document_table(op)


def downgrade() -> None:
    op.drop_index("ix_document_owner_id", "document")
    op.drop_table("document")
