"""Transactional outbox: an event is stored with the state change that caused it, then relayed.

A crash between commit and publish loses nothing (the row stays unpublished); a crash between
publish and marking publishes the row again with the same ``ce_id``, which consumers absorb.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from setka_contracts import CloudEvent, EventData
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from . import metrics
from .db import Database
from .tables import outbox

log = logging.getLogger(__name__)

Publish = Callable[[str, str, bytes, dict[str, str]], Awaitable[None]]
"""publish(topic, key, body, headers): returns once the broker has the message."""

_PENDING_FLAG = "setka_outbox_pending"
RELAY_LOCK = 0x5E7CA0  # one relay per service database: replicas stand by while one publishes


def _row(data: EventData, source: str) -> tuple[CloudEvent, dict[str, Any]]:
    event = CloudEvent(
        type=data.event_type, source=source, data=data.model_dump(mode="json"), subject=data.key()
    )
    row = {
        "event_id": event.id,
        "event_type": event.type,
        "topic": data.topic,
        "key": data.key(),
        "source": event.source,
        "occurred_at": event.time,
        "payload": json.dumps(event.data, ensure_ascii=False, allow_nan=False),
    }
    return event, row


async def record(session: AsyncSession, data: EventData, *, source: str) -> CloudEvent:
    """Add ``data`` as an event to the session's transaction; it is published after commit."""
    return (await record_many(session, [data], source=source))[0]


async def record_many(session: AsyncSession, items: Sequence[EventData], *, source: str) -> list[CloudEvent]:
    """Add several events to the session's transaction in one statement, in the given order."""
    if not items:
        return []
    pairs = [_row(data, source) for data in items]
    rows = [row for _, row in pairs]
    for start in range(0, len(rows), 1000):
        await session.execute(insert(outbox), rows[start : start + 1000])
    session.sync_session.info[_PENDING_FLAG] = True
    return [event for event, _ in pairs]


class OutboxRelay:
    """Publishes unpublished rows in id order and marks them.

    Rows go out strictly in order: on a failure the relay waits and starts again from the
    first unpublished row, so one aggregate's events never overtake each other.
    """

    def __init__(
        self, db: Database, publish: Publish, *, poll_seconds: float = 0.5, batch_size: int = 200
    ) -> None:
        self._db = db
        self._publish = publish
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._stopping = False
        db.on_commit(self._after_commit)

    def _after_commit(self, session: Any) -> None:
        if session.info.pop(_PENDING_FLAG, False):
            self.wake()

    def wake(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Relay until stopped; on PostgreSQL only the holder of the relay lock publishes."""
        if self._db.is_sqlite:
            await self._relay()
            return
        while not self._stopping:
            async with self._db.engine.connect() as connection:
                held = await connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": RELAY_LOCK})
                if held:
                    try:
                        await self._relay()
                    finally:
                        await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": RELAY_LOCK})
                    return
            log.info("outbox: another replica holds the relay lock; standing by")
            await asyncio.sleep(5.0)

    async def _relay(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                sent = await self.publish_pending()
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                metrics.OUTBOX_FAILURES.inc()
                delay = min(self._poll_seconds * 2**failures, 10.0)
                log.warning("outbox: publishing failed (%s); next try in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            if sent < self._batch_size:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self._poll_seconds)
                except TimeoutError:
                    pass
                self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch; return how many rows were published.

        Rows of one aggregate (topic and key) go out one after another, each awaiting the broker's
        acknowledgement; different aggregates go out concurrently, so the producer batches them.
        When a row fails, the later rows of its aggregate stay unpublished for the next try.
        """
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(outbox)
                    .where(outbox.c.published_at.is_(None))
                    .order_by(outbox.c.id)
                    .limit(self._batch_size)
                )
            ).all()
            if len(rows) < self._batch_size:
                metrics.OUTBOX_PENDING.set(len(rows))
            else:
                pending = await session.scalar(
                    select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
                )
                metrics.OUTBOX_PENDING.set(pending or 0)
        aggregates: dict[tuple[str, str], list[Any]] = {}
        for row in rows:
            aggregates.setdefault((row.topic, row.key), []).append(row)
        published: list[int] = []

        async def in_order(chain: list[Any]) -> None:
            for row in chain:
                event = CloudEvent(
                    id=row.event_id,
                    type=row.event_type,
                    source=row.source,
                    time=row.occurred_at.replace(tzinfo=row.occurred_at.tzinfo or UTC),
                    subject=row.key,
                    data=json.loads(row.payload),
                )
                await self._publish(row.topic, row.key, event.body(), event.headers())
                published.append(row.id)
                metrics.OUTBOX_PUBLISHED.labels(row.topic).inc()

        try:
            outcomes = await asyncio.gather(
                *(in_order(chain) for chain in aggregates.values()), return_exceptions=True
            )
        finally:
            if published:
                await self._mark(published)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return len(published)

    async def _mark(self, ids: list[int]) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                update(outbox)
                .where(outbox.c.id.in_(ids))
                .values(published_at=datetime.now(UTC), attempts=outbox.c.attempts + 1)
            )

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
