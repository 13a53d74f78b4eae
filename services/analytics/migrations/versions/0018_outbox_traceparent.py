"""The outbox keeps the W3C traceparent current when an event was recorded, so the relay sends
it on (the CloudEvents distributed-tracing extension) and a trace continues across Kafka.

Revision ID: 0018
Revises: 0015
"""

from alembic import op
from setka_runtime.tables import add_outbox_traceparent, drop_outbox_traceparent

revision = "0018"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_traceparent(op)


def downgrade() -> None:
    drop_outbox_traceparent(op)
