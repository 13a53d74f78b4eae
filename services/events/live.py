"""Live activity changes, for GraphQL subscriptions.

Every process of the events service reads its own topic (``setka.events``) from the end,
without a consumer group (each replica must see every change, and a live feed has nothing to
commit), and hands each activity change to the subscribers of the activity's network. The
change is read from Kafka, not from the transaction that made it, so a subscriber sees what was
published whichever replica wrote it, in the order of the activity's partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiokafka import AIOKafkaConsumer
from setka_contracts import envelope
from setka_runtime.db import Database
from setka_runtime.kafka import Connection, as_options
from sqlalchemy import select

from .models import Activity

log = logging.getLogger(__name__)

ACTIVITY_EVENTS = "setka.events.activity."
QUEUE_SIZE = 1000


@dataclass(frozen=True)
class ActivityChange:
    kind: str  # the event's name: planned, updated, announced, held, reported, cancelled, ...
    activity_id: uuid.UUID
    network_id: uuid.UUID | None
    occurred_at: datetime
    event_id: str


def change_kind(event_type: str) -> str | None:
    """``setka.events.activity.held.v1`` → ``held``; None for what is not an activity change."""
    if not event_type.startswith(ACTIVITY_EVENTS):
        return None
    return event_type[len(ACTIVITY_EVENTS) :].rsplit(".v", 1)[0]


class LiveActivities:
    def __init__(self, bootstrap: Connection, topic: str, db: Database, *, client_id: str) -> None:
        """``bootstrap``: a bootstrap string or :func:`setka_runtime.kafka.client_options`."""
        self.bootstrap = bootstrap
        self.topic = topic
        self.db = db
        self.client_id = client_id
        self._subscribers: set[tuple[uuid.UUID | None, asyncio.Queue[ActivityChange]]] = set()
        self.listening = asyncio.Event()

    @contextlib.asynccontextmanager
    async def subscribe(self, network_id: uuid.UUID | None) -> AsyncIterator[asyncio.Queue[ActivityChange]]:
        queue: asyncio.Queue[ActivityChange] = asyncio.Queue(QUEUE_SIZE)
        entry = (network_id, queue)
        self._subscribers.add(entry)
        try:
            yield queue
        finally:
            self._subscribers.discard(entry)

    def publish(self, change: ActivityChange) -> None:
        for network_id, queue in list(self._subscribers):
            if network_id is not None and network_id != change.network_id:
                continue
            try:
                queue.put_nowait(change)
            except asyncio.QueueFull:
                log.warning("a live subscriber is %d changes behind; dropping this one", QUEUE_SIZE)

    async def run(self) -> None:
        """Read the topic from its end for as long as the process lives; reconnect on failures."""
        delay = 0.5
        while True:
            consumer = AIOKafkaConsumer(
                self.topic,
                **as_options(self.bootstrap),
                group_id=None,
                client_id=self.client_id,
                enable_auto_commit=False,
                auto_offset_reset="latest",
            )
            try:
                await consumer.start()
                self.listening.set()
                delay = 0.5
                while True:
                    batches = await consumer.getmany(timeout_ms=1000, max_records=500)
                    records = [record for batch in batches.values() for record in batch]
                    if records:
                        await self._hand_out(records)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.listening.clear()
                log.warning("live activity feed interrupted (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _hand_out(self, records: list[Any]) -> None:
        if not self._subscribers:
            return  # nobody listens: the topic's every event is not read for nothing
        changes: list[tuple[str, str, dict[str, Any], datetime]] = []
        for record in records:
            try:
                event = envelope.parse(envelope.decode_headers(record.headers or ()), record.value)
            except envelope.EnvelopeError:
                continue  # the service's own topic; the guarded consumers dead-letter such records
            kind = change_kind(event.type)
            if kind is None:
                continue
            data = event.data
            if isinstance(data, dict) and data.get("activity_id"):
                changes.append((kind, event.id, data, event.time))
        if not changes:
            return
        ids = {uuid.UUID(str(data["activity_id"])) for _, _, data, _ in changes}
        networks = await self._networks(ids)
        for kind, event_id, data, occurred_at in changes:
            activity_id = uuid.UUID(str(data["activity_id"]))
            network = data.get("network_id")
            network_id = uuid.UUID(str(network)) if network else networks.get(activity_id)
            self.publish(ActivityChange(kind, activity_id, network_id, occurred_at, event_id))

    async def _networks(self, ids: set[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
        async with self.db.session() as session:
            rows = await session.execute(select(Activity.id, Activity.network_id).where(Activity.id.in_(ids)))
            return {row.id: row.network_id for row in rows}
