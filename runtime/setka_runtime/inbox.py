"""Idempotent consumption: a processed event is written in the same transaction as its effect.

An event is known by its ``ce_source`` and ``ce_id`` together (CloudEvents makes only the pair
unique), so two senders that happen to use the same id do not shadow each other's facts.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import delete, text, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from .sql import insert_ignoring_conflicts
from .tables import inbox

EventKey = tuple[str, str]
"""(ce_source, ce_id)"""


async def claim(session: AsyncSession, *, consumer: str, source: str, event_id: str, event_type: str) -> bool:
    """Mark the event processed by ``consumer``; False when it already was (a redelivery)."""
    statement = insert_ignoring_conflicts(session, inbox).values(
        consumer=consumer, source=source, event_id=event_id, event_type=event_type
    )
    result = await session.execute(statement)
    return bool(result.rowcount)


_CLAIM_ARRAYS = text(
    f"INSERT INTO {inbox.name} (consumer, source, event_id, event_type)"
    " SELECT :consumer, * FROM unnest("
    "CAST(:sources AS varchar[]), CAST(:ids AS varchar[]), CAST(:types AS varchar[]))"
    " ON CONFLICT DO NOTHING RETURNING source, event_id"
)
"""A batch's claims on PostgreSQL: three array parameters, not four per event (cheaper to bind)."""


async def claim_many(
    session: AsyncSession, *, consumer: str, events: Sequence[tuple[str, str, str]]
) -> set[EventKey]:
    """Claim ``(source, id, type)`` events at once; return the keys that were new."""
    if not events:
        return set()
    if session.get_bind().dialect.name == "postgresql":
        fresh = list(dict.fromkeys(events))
        claimed = await session.execute(
            _CLAIM_ARRAYS,
            {
                "consumer": consumer,
                "sources": [source for source, _, _ in fresh],
                "ids": [event_id for _, event_id, _ in fresh],
                "types": [event_type for _, _, event_type in fresh],
            },
        )
        return {(source, event_id) for source, event_id in claimed}
    rows = [
        {"consumer": consumer, "source": source, "event_id": event_id, "event_type": event_type}
        for source, event_id, event_type in dict.fromkeys(events)
    ]
    statement = insert_ignoring_conflicts(session, inbox).returning(inbox.c.source, inbox.c.event_id)
    result = await session.execute(statement, rows)  # one compiled statement, many rows
    return {(row.source, row.event_id) for row in result}


async def release_many(session: AsyncSession, *, consumer: str, keys: Iterable[EventKey]) -> None:
    """Forget claims made in this transaction for events that were not applied after all."""
    keys = list(dict.fromkeys(keys))
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        await session.execute(
            delete(inbox).where(
                inbox.c.consumer == consumer, tuple_(inbox.c.source, inbox.c.event_id).in_(chunk)
            )
        )
