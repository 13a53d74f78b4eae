"""Transactional outbox: an event is stored with the state change that caused it, then relayed.

A crash between commit and publish loses nothing (the row stays unpublished); a crash between
publish and marking publishes the row again with the same ``ce_id``, which consumers absorb.

One relay publishes per database, provably (:mod:`setka_runtime.fencing`): on PostgreSQL the
holder of a lease row with a fencing token, on SQLite the holder of a file lock; the others stand
by, surviving database errors, and take over when the holder is gone.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from setka_contracts import CloudEvent, EventData, as_sequence
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import metrics, tracing
from .db import Database
from .fencing import Fence, LostFence, fence_for
from .sql import insert_many
from .tables import outbox

log = logging.getLogger(__name__)

Publish = Callable[[str, str, bytes, dict[str, str]], Awaitable[None]]
"""publish(topic, key, body, headers): returns once the broker has the message."""

_PENDING_FLAG = "setka_outbox_pending"
RECORDED = "setka_outbox_recorded"
"""Session info: (event_id, event_type, key) of every event recorded in the transaction."""
Send = Callable[[str, str, bytes, dict[str, str]], Awaitable["asyncio.Future[Any]"]]
"""send(topic, key, body, headers): enqueue with the producer; the future resolves on the broker's ack."""


def _row(data: EventData, source: str, traceparent: str | None) -> tuple[str, dict[str, Any]]:
    event_id = str(uuid.uuid4())
    row = {
        "event_id": event_id,
        "event_type": data.event_type,
        "topic": data.topic,
        "key": data.key(),
        "source": source,
        "occurred_at": datetime.now(UTC),
        "payload": data.model_dump_json(),  # strict JSON: pydantic writes no NaN
        "traceparent": traceparent,
    }
    return event_id, row


async def record(session: AsyncSession, data: EventData, *, source: str) -> str:
    """Add ``data`` as an event to the session's transaction; it is published after commit.

    Returns the event's id (``ce_id``)."""
    return (await record_many(session, [data], source=source))[0]


async def record_many(
    session: AsyncSession,
    items: Sequence[EventData],
    *,
    source: str,
    traceparents: Sequence[str | None] | None = None,
) -> list[str]:
    """Add several events to the session's transaction in one statement, in the given order;
    return their ids. Each keeps the current span's ``traceparent`` (the trace goes on with it),
    or its own of ``traceparents`` (a batch handler: each event the trace of its message)."""
    if not items:
        return []
    if traceparents is None:
        traceparents = [tracing.current_traceparent()] * len(items)
    pairs = [_row(data, source, parent) for data, parent in zip(items, traceparents, strict=True)]
    await insert_many(session, outbox, [row for _, row in pairs])
    session.sync_session.info[_PENDING_FLAG] = True
    session.sync_session.info.setdefault(RECORDED, []).extend(
        (event_id, row["event_type"], row["key"]) for event_id, row in pairs
    )
    return [event_id for event_id, _ in pairs]


class OutboxRelay:
    """Publishes unpublished rows in id order, in batches, and marks them, while it holds the fence.

    A batch's keys go out together, each key's rows one after another in id order (the next once
    the broker has acknowledged the previous), so a key's order holds in its partition even when
    the broker fails some of them; rows whose send failed, and the later rows of their key, stay
    unpublished for the next try. Each message carries its row's id as ``ce_sequence``.
    """

    def __init__(
        self,
        db: Database,
        publish: Publish,
        *,
        send: Send | None = None,
        poll_seconds: float = 0.5,
        batch_size: int = 200,
        lease_seconds: float = 15.0,
        fence: Fence | None = None,
    ) -> None:
        self._db = db
        self._publish = publish
        self._send = send
        self._poll_seconds = poll_seconds
        self._batch_size = batch_size
        self._wake = asyncio.Event()
        self._stopping = False
        self.fence = fence or fence_for(db, lease_seconds=lease_seconds)
        self.state = "starting"
        self.failing_since: float | None = None
        self.last_error = ""
        self.unhealthy_after_seconds = 30.0
        """Readiness fails once the relay has failed for this long without a success."""
        self._task: asyncio.Task[None] | None = None
        self.replica = f"{socket.gethostname()}:{os.getpid()}"
        """This process, as ``setka_outbox_lease_held`` names it."""
        db.on_commit(self._after_commit)

    def _after_commit(self, session: Any) -> None:
        session.info.pop(RECORDED, None)
        if session.info.pop(_PENDING_FLAG, False):
            self.wake()

    def wake(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.call_soon_threadsafe(self._wake.set)

    async def run(self) -> None:
        """Relay until stopped: publish while holding the fence, stand by otherwise. Never ends on
        an error: a database or broker that is away is waited out."""
        self._task = asyncio.current_task()  # type: ignore[assignment]
        standby = self.fence.standby_seconds
        while not self._stopping:
            try:
                if await self.fence.acquire():
                    self.state = "publishing"
                    metrics.OUTBOX_LEASE.labels(self.replica).set(1)
                    log.info("outbox: this relay publishes (%s)", self.fence.describe())
                    await self._relay()
                else:
                    if self.state != "standing by":
                        log.info("outbox: another relay publishes; standing by")
                    self.state = "standing by"
                    metrics.OUTBOX_LEASE.labels(self.replica).set(0)
                    self._ok()
            except asyncio.CancelledError:
                raise
            except LostFence as exc:
                self.state = "standing by"
                metrics.OUTBOX_LEASE.labels(self.replica).set(0)
                log.warning("outbox: %s; standing by", exc)
            except Exception as exc:
                self._failed(exc)
                log.warning("outbox: relay failed (%s: %s); trying again", type(exc).__name__, exc)
            if not self._stopping:
                await asyncio.sleep(standby)
        await self.fence.release()
        metrics.OUTBOX_LEASE.labels(self.replica).set(0)

    async def _relay(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                sent = await self.publish_pending()
                failures = 0
                self._ok()
            except (asyncio.CancelledError, LostFence):
                raise
            except Exception as exc:
                failures += 1
                self._failed(exc)
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

    def _ok(self) -> None:
        self.failing_since, self.last_error = None, ""

    def _failed(self, exc: BaseException) -> None:
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]

    async def check(self) -> None:
        """Readiness: raise when the relay has ended, or keeps failing (``unhealthy_after_seconds``)."""
        if self._task is not None and self._task.done() and not self._stopping:
            raise RuntimeError("the outbox relay has stopped")
        if (
            self.failing_since is not None
            and time.monotonic() - self.failing_since > self.unhealthy_after_seconds
        ):
            raise ConnectionError(f"the outbox relay ({self.state}) keeps failing: {self.last_error}")

    async def publish_pending(self) -> int:
        """Publish one batch; return how many rows were published and marked.

        Raises :class:`LostFence` when another relay holds the fence now: nothing is marked then."""
        async with self._db.session() as session, session.begin():
            deadline = await self.fence.renew(session)  # the lease renewed with the batch's read
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
            oldest = rows[0].occurred_at if rows else None
            if oldest is None:
                metrics.OUTBOX_OLDEST_SECONDS.set(0)
            else:
                age = datetime.now(UTC) - oldest.replace(tzinfo=oldest.tzinfo or UTC)
                metrics.OUTBOX_OLDEST_SECONDS.set(max(0.0, age.total_seconds()))
        if not rows:
            return 0
        published = await self._send_all(rows, deadline)
        if published:
            await self.fence.mark(published)
            for row in rows:
                if row.id in published:
                    metrics.OUTBOX_PUBLISHED.labels(row.topic).inc()
        return len(published)

    def message(self, row: Any, traceparent: str | None = None) -> CloudEvent:
        """The CloudEvent of an outbox row, with its position as ``ce_sequence``: the version a
        consumer compares to keep the newest state of an aggregate; and ``traceparent`` (else
        the row's own) as ``ce_traceparent``."""
        return _event(row, json.loads(row.payload), traceparent)

    def _headers(self, row: Any, traceparent: str | None = None) -> dict[str, str]:
        """The Kafka headers of :meth:`message`: the relay sends the row's payload as the body, as
        it was recorded (strict JSON), without reading and writing it again."""
        return _event(row, {}, traceparent).headers()

    async def _send_all(self, rows: Sequence[Any], deadline: float) -> set[int]:
        """Send every row, each key's rows one after another, and return the ids acknowledged
        by ``deadline`` (monotonic).

        Different keys go out together; a key's next row is handed to the producer only once its
        previous one is acknowledged. So when the broker fails a row, the later rows of its key
        were never sent: they wait, unpublished, and go out after it on the next try (had they
        been sent with it, they would stand before it in the log, and come again after it)."""
        chains: dict[tuple[str, str], list[Any]] = {}
        for row in rows:
            chains.setdefault((row.topic, row.key), []).append(row)
        published: set[int] = set()
        failures: list[BaseException] = []

        async def send_in_order(chain: list[Any]) -> None:
            for row in chain:
                stored = getattr(row, "traceparent", None)
                if not stored or not tracing.enabled():  # the row's own trace context goes on
                    if not await send_one(row, self._headers(row), None):
                        return
                    continue
                made = tracing.start(
                    f"{row.topic} publish",
                    component="outbox",
                    kind=tracing.SpanKind.PRODUCER,
                    parent=tracing.context_of(stored),
                    attributes=_publish_attributes(row),
                )
                try:
                    sent = await send_one(row, self._headers(row, tracing.traceparent_of(made)), made)
                finally:
                    tracing.finish(made)
                if not sent:
                    return

        async def send_one(row: Any, headers: dict[str, str], made: tracing.Span | None) -> bool:
            body = row.payload.encode()  # the data as recorded: strict JSON already
            try:
                if self._send is None:
                    await self._publish(row.topic, row.key, body, headers)
                else:
                    await (await self._send(row.topic, row.key, body, headers))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the broker's refusal: this key waits for the next try
                failures.append(exc)
                if made is not None:
                    tracing.mark_error(exc, made)
                return False
            published.add(row.id)
            return True

        tasks = [asyncio.ensure_future(send_in_order(chain)) for chain in chains.values()]
        _, late = await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
        for task in late:
            task.cancel()
        if late:
            await asyncio.wait(late)
        if len(published) < len(rows):
            reason = repr(failures[0]) if failures else "no acknowledgement in time"
            log.warning(
                "outbox: %d of %d events not acknowledged (%s)", len(rows) - len(published), len(rows), reason
            )
        return published

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()


def _event(row: Any, data: dict[str, Any], traceparent: str | None) -> CloudEvent:
    return CloudEvent(
        id=row.event_id,
        type=row.event_type,
        source=row.source,
        time=row.occurred_at.replace(tzinfo=row.occurred_at.tzinfo or UTC),
        subject=row.key,
        data=data,
        sequence=as_sequence(row.id),
        traceparent=traceparent or getattr(row, "traceparent", None),
    )


def _publish_attributes(row: Any) -> dict[str, Any]:
    """A relay span's attributes (OpenTelemetry's messaging conventions, and the CloudEvent's)."""
    return {
        "messaging.system": "kafka",
        "messaging.operation.type": "send",
        "messaging.destination.name": row.topic,
        "messaging.kafka.message.key": row.key,
        "cloudevents.event_id": row.event_id,
        "cloudevents.event_type": row.event_type,
        "cloudevents.event_source": row.source,
    }
