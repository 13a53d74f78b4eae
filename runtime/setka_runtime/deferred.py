"""Messages that refer to something not known yet wait in the database, not in the partition.

When a handler raises :class:`~setka_runtime.errors.NotYetKnown`, the guarded consumer hands the
message to :meth:`Deferrals.defer`, which stores it (headers, payload, when it was first seen) and
lets the partition go on. :meth:`Deferrals.run` is a background loop that hands every due row back
to its consumer; a row that still cannot be handled when ``max_wait_seconds`` have passed since it
was first seen goes to the dead-letter topic with the last reason. A redelivered message that is
already waiting is the same row (keyed by consumer and ``ce_id``), so nothing is doubled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from setka_contracts import printable_header
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    delete,
    inspect,
    select,
    text,
    update,
)

from .db import Database
from .sql import insert_ignoring_conflicts

if TYPE_CHECKING:
    from .consumer import GuardedConsumer

log = logging.getLogger(__name__)

deferred_metadata = MetaData()

deferred = Table(
    "deferred",
    deferred_metadata,
    Column("consumer", String(200), primary_key=True),
    Column("source", String(200), primary_key=True),
    Column("event_id", String(200), primary_key=True),
    Column("topic", String(200), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("key", LargeBinary, nullable=True),
    Column("headers", Text, nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("reason", Text, nullable=False),
)


def create_deferred_table(op: Any) -> None:
    """Create the ``deferred`` table from a service's migration."""
    deferred_metadata.create_all(op.get_bind())


def upgrade_deferred_table(op: Any) -> None:
    """Key waiting messages by their event source too (idempotent); waiting rows are kept."""
    bind = op.get_bind()
    columns = {column["name"] for column in inspect(bind).get_columns("deferred")}
    if "source" in columns:
        return
    rows = [dict(row._mapping) for row in bind.execute(select(text("*")).select_from(text("deferred")))]
    op.drop_table("deferred")
    deferred.create(bind)
    for row in rows:
        row["source"] = json.loads(row["headers"]).get("ce_source", "")
    if rows:
        bind.execute(deferred.insert(), rows)


def drop_deferred_table(op: Any) -> None:
    deferred_metadata.drop_all(op.get_bind())


def _stored(headers: Mapping[str, str]) -> str:
    """Headers as JSON text a database can hold: bytes that were not UTF-8 (only outside the
    ``ce_*`` headers, which the envelope checks) written as ``\\xNN``."""
    return json.dumps(
        {printable_header(name): printable_header(value) for name, value in headers.items()},
        ensure_ascii=False,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Deferrals:
    """The waiting room of one service's consumers."""

    def __init__(
        self,
        db: Database,
        *,
        max_wait_seconds: float,
        first_retry_seconds: float = 1.0,
        max_retry_seconds: float = 60.0,
        poll_seconds: float = 0.5,
    ) -> None:
        self._db = db
        self.max_wait = timedelta(seconds=max_wait_seconds)
        self._first_retry = first_retry_seconds
        self._max_retry = max_retry_seconds
        self._poll_seconds = poll_seconds
        self._consumers: dict[str, GuardedConsumer] = {}

    def attach(self, consumer: GuardedConsumer) -> None:
        """Let ``consumer`` defer its messages here (and be handed them back)."""
        consumer.deferrals = self
        self._consumers[f"{consumer.group}|{consumer.topic}"] = consumer

    async def defer(
        self, consumer: GuardedConsumer, value: bytes, headers: Mapping[str, str], reason: str, origin: Any
    ) -> str:
        """Store (or re-schedule) a message that is waiting; dead-letter it once it waited too long."""
        now = datetime.now(UTC)
        event_id, source = headers.get("ce_id", ""), headers.get("ce_source", "")
        name = f"{consumer.group}|{consumer.topic}"
        this = (deferred.c.consumer == name, deferred.c.source == source, deferred.c.event_id == event_id)
        async with self._db.session() as session, session.begin():
            row = (
                await session.execute(select(deferred.c.first_seen_at, deferred.c.attempts).where(*this))
            ).first()
            if row is None:
                await session.execute(
                    insert_ignoring_conflicts(session, deferred).values(
                        consumer=name,
                        source=source,
                        event_id=event_id,
                        topic=consumer.topic,
                        event_type=headers.get("ce_type", ""),
                        key=getattr(origin, "key", None),
                        headers=_stored(headers),
                        payload=value,
                        first_seen_at=now,
                        next_attempt_at=now + timedelta(seconds=self._first_retry),
                        attempts=1,
                        reason=reason,
                    )
                )
                log.info("%s: %s waits: %s", consumer.group, event_id, reason)
                return "deferred"
            waited = now - _aware(row.first_seen_at)
            if waited >= self.max_wait:
                seconds = int(self.max_wait.total_seconds())
                await consumer.dead_letter(
                    value,
                    headers,
                    f"still refers to something unknown after waiting {seconds}s: {reason}",
                    origin if origin is not None else SimpleNamespace(key=None, partition="", offset=""),
                )
                await session.execute(delete(deferred).where(*this))
                return "dead-lettered"
            delay = min(self._first_retry * 2**row.attempts, self._max_retry)
            await session.execute(
                update(deferred)
                .where(*this)
                .values(
                    attempts=row.attempts + 1,
                    reason=reason,
                    next_attempt_at=min(
                        now + timedelta(seconds=delay), _aware(row.first_seen_at) + self.max_wait
                    ),
                )
            )
        return "deferred"

    async def retry_due(self, *, limit: int = 100) -> int:
        """Hand every due message back to its consumer; return how many were tried."""
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(deferred)
                    .where(deferred.c.next_attempt_at <= datetime.now(UTC))
                    .order_by(deferred.c.first_seen_at)
                    .limit(limit)
                )
            ).all()
        for row in rows:
            consumer = self._consumers.get(row.consumer)
            if consumer is None:
                continue
            origin = SimpleNamespace(key=row.key, partition="deferred", offset="deferred")
            outcome = await consumer.handle(row.payload, json.loads(row.headers), origin=origin)
            if outcome != "deferred":
                async with self._db.session() as session, session.begin():
                    await session.execute(
                        delete(deferred).where(
                            deferred.c.consumer == row.consumer,
                            deferred.c.source == row.source,
                            deferred.c.event_id == row.event_id,
                        )
                    )
        return len(rows)

    async def waiting(self) -> int:
        async with self._db.session() as session:
            rows = (await session.execute(select(deferred.c.event_id))).all()
        return len(rows)

    async def run(self) -> None:
        """The background loop of :class:`~setka_runtime.service.Service`."""
        while True:
            try:
                await self.retry_due()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("deferred messages: retry failed (%s)", exc)
            await asyncio.sleep(self._poll_seconds)
