"""Idempotent consumption: a processed event id is written in the same transaction as its effect."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from .sql import insert_ignoring_conflicts
from .tables import inbox


async def claim(session: AsyncSession, *, consumer: str, event_id: str, event_type: str) -> bool:
    """Mark ``event_id`` processed by ``consumer``; False when it already was (a redelivery)."""
    statement = insert_ignoring_conflicts(session, inbox).values(
        consumer=consumer, event_id=event_id, event_type=event_type
    )
    result = await session.execute(statement)
    return bool(result.rowcount)
