"""Tables every service has beside its own: the outbox and the inbox.

They live in their own metadata so each service's migrations create them with one call.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
)

plumbing_metadata = MetaData()


def no_items() -> list[Any]:
    """An empty list: the ``default_factory`` of a table model's JSON list field.

    Not ``list`` itself: pydantic inspects a factory's signature on every construction of a
    SQLModel table row, and a builtin's signature is parsed from its text (≈70 µs a field, a
    sixth of what a consumer spent applying a batch of regional activities)."""
    return []


def no_entries() -> dict[str, Any]:
    """An empty mapping: the ``default_factory`` of a table model's JSON object field (see
    :func:`no_items`)."""
    return {}


# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
_id_type = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    plumbing_metadata,
    Column("id", _id_type, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("source", String(200), nullable=False),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("published_at", DateTime(timezone=True), nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text, nullable=True),
    Column("traceparent", String(64), nullable=True),
    Index("ix_outbox_unpublished", "published_at", "id"),
)

inbox = Table(
    "inbox",
    plumbing_metadata,
    Column("consumer", String(200), primary_key=True),
    # two senders may use the same id: an event is known by its source and id (CloudEvents)
    Column("source", String(200), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("event_type", String(200), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)


relay_lease = Table(
    "relay_lease",
    plumbing_metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("token", BigInteger, nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
"""Who may relay the outbox now: one holder at a time, a fencing token that grows on every take-over."""


def create_plumbing_tables(op: Any) -> None:
    """Create the outbox and inbox from a service's first Alembic migration."""
    bind = op.get_bind()
    plumbing_metadata.create_all(bind)


def upgrade_plumbing_tables(op: Any) -> None:
    """Bring the plumbing tables of an existing database to their current shape (idempotent).

    Adds the tables that are missing (the relay lease) and rebuilds an inbox keyed without its
    event source; a fresh database already has the current shape from its first migration.
    """
    bind = op.get_bind()
    plumbing_metadata.create_all(bind, checkfirst=True)
    columns = {column["name"] for column in inspect(bind).get_columns("inbox")}
    if "source" not in columns:
        op.drop_table("inbox")
        inbox.create(bind)


def add_outbox_traceparent(op: Any) -> None:
    """Give an existing outbox its ``traceparent`` column (idempotent: a fresh database has it)."""
    bind = op.get_bind()
    if "traceparent" not in {column["name"] for column in inspect(bind).get_columns("outbox")}:
        op.add_column("outbox", Column("traceparent", String(64), nullable=True))


def drop_outbox_traceparent(op: Any) -> None:
    bind = op.get_bind()
    if "traceparent" in {column["name"] for column in inspect(bind).get_columns("outbox")}:
        op.drop_column("outbox", "traceparent")


def drop_plumbing_tables(op: Any) -> None:
    bind = op.get_bind()
    plumbing_metadata.drop_all(bind)
