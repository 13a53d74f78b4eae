"""Kafka wiring shared by every service: the broker, topics, and guarded consumers.

A guarded consumer reads a CloudEvent, validates its data against the contract, and runs the
handler and the inbox claim in one database transaction. A message that cannot be handled is
retried with backoff and then sent, with its original payload and headers and the reason, to
``<topic>.dlq``; the partition keeps flowing. The offset is committed only after that
(``AckPolicy.NACK_ON_ERROR``): a handler cancelled at shutdown leaves its message to the next run.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pydantic import ValidationError
from setka_contracts import CloudEvent, EnvelopeError, EventData, decode_headers, parse
from setka_contracts.topics import dead_letter
from sqlalchemy.ext.asyncio import AsyncSession

from . import inbox, metrics
from .db import Database
from .errors import NotYetKnown, PermanentError
from .settings import ServiceSettings

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]
"""handler(session, data, event): apply one event inside the caller's transaction."""


def make_broker(settings: ServiceSettings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        enable_idempotence=settings.kafka_enable_idempotence,
        acks="all",
        log_level=logging.DEBUG,
        graceful_timeout=settings.consumer_graceful_seconds,
        logger=logging.getLogger(f"setka.{client_id}.kafka"),
    )


def publisher(broker: KafkaBroker) -> Callable[[str, str, bytes, dict[str, str]], Awaitable[None]]:
    """publish(topic, key, body, headers) over the broker's producer, awaiting the broker's ack."""

    async def publish(topic: str, key: str, body: bytes, headers: dict[str, str]) -> None:
        await broker.publish(body, topic, key=key.encode(), headers=headers)

    return publish


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    with_dead_letters: bool = True,
) -> list[str]:
    """Create missing topics (and their ``.dlq``); return the names created."""
    wanted: list[str] = []
    for topic in topics:
        wanted.append(topic)
        if with_dead_letters and not topic.endswith(".dlq"):
            wanted.append(dead_letter(topic))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(wanted) if name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
                    for name in missing
                ]
            )
        return missing
    finally:
        await admin.close()


def subscribe(
    broker: KafkaBroker,
    topics: Sequence[str],
    *,
    group: str,
    handler: Callable[[Any, KafkaMessage], Awaitable[None]],
) -> None:
    """The one way Setka subscribes: its group, from the earliest offset, raw bytes, and an offset
    committed only after the handler returned (a cancelled or failed handler commits nothing)."""
    broker.subscriber(
        *topics,
        group_id=group,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        decoder=_raw_body,
    )(handler)


class GuardedConsumer:
    """One consumer group on one topic, dispatching by ``ce_type`` to typed handlers."""

    deferrals: Any = None
    """A :class:`~setka_runtime.deferred.Deferrals` that parks ``NotYetKnown`` messages, if set."""
    reject_unknown_types: bool = False
    """Dead-letter types with no handler (an inbound topic) instead of ignoring them."""

    def __init__(
        self,
        *,
        topic: str,
        group: str,
        db: Database,
        broker: KafkaBroker,
        handlers: Mapping[type[EventData], Handler],
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
    ) -> None:
        self.topic = topic
        self.group = group
        self._db = db
        self._broker = broker
        self._handlers = {model.event_type: (model, handler) for model, handler in handlers.items()}
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds

    def subscribe(self) -> None:
        """Register with the broker; call before the broker starts."""
        subscribe(self._broker, [self.topic], group=self.group, handler=self._on_message)

    async def _on_message(self, body: Any, message: KafkaMessage) -> None:
        record = message.raw_message
        value: bytes = record.value or b""
        headers = decode_headers(record.headers or [])
        started = time.perf_counter()
        outcome = await self.handle(value, headers, origin=record)
        metrics.HANDLING_SECONDS.labels(self.topic).observe(time.perf_counter() - started)
        metrics.MESSAGES.labels(self.topic, headers.get("ce_type", "?"), outcome).inc()

    async def handle(self, value: bytes, headers: Mapping[str, str], *, origin: Any = None) -> str:
        """Handle one message; return the outcome: processed, duplicate, ignored or dead-lettered."""
        try:
            event = parse(headers, value)
        except EnvelopeError as exc:
            await self._dead_letter(value, headers, f"invalid envelope: {exc}", origin)
            return "dead-lettered"
        entry = self._handlers.get(event.type)
        if entry is None:
            if self.reject_unknown_types:
                accepted = ", ".join(sorted(self._handlers))
                reason = f"type {event.type!r} is not accepted on {self.topic}; accepted: {accepted}"
                await self._dead_letter(value, headers, reason, origin)
                return "dead-lettered"
            return "ignored"  # a type this consumer does not need, or a newer version
        model, handler = entry
        try:
            data = model.model_validate(event.data)
        except ValidationError as exc:
            await self._dead_letter(value, headers, f"does not match {event.type}: {_brief(exc)}", origin)
            return "dead-lettered"

        for attempt in range(1, self._max_attempts + 1):
            try:
                async with self._db.session() as session, session.begin():
                    fresh = await inbox.claim(
                        session, consumer=self.group, event_id=event.id, event_type=event.type
                    )
                    if not fresh:
                        return "duplicate"
                    await handler(session, data, event)
                return "processed"
            except PermanentError as exc:
                await self._dead_letter(value, headers, f"rejected: {exc}", origin)
                return "dead-lettered"
            except Exception as exc:
                if isinstance(exc, NotYetKnown) and self.deferrals is not None:
                    return await self.deferrals.defer(self, value, headers, str(exc), origin)
                if attempt == self._max_attempts:
                    reason = f"failed after {attempt} attempts: {type(exc).__name__}: {exc}"
                    await self._dead_letter(value, headers, reason, origin)
                    return "dead-lettered"
                delay = self._backoff_seconds * 2 ** (attempt - 1)
                log.warning(
                    "%s: %s %s failed (attempt %d/%d: %s); retrying in %.2fs",
                    self.group,
                    event.type,
                    event.id,
                    attempt,
                    self._max_attempts,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _dead_letter(self, value: bytes, headers: Mapping[str, str], reason: str, origin: Any) -> None:
        """Send the original message with the reason to ``<topic>.dlq``; raise if that fails."""
        dlq_headers = dict(headers)
        dlq_headers.update(
            {
                "dlq_reason": reason[:2000],
                "dlq_topic": self.topic,
                "dlq_consumer": self.group,
                "dlq_failed_at": datetime.now(UTC).isoformat(),
            }
        )
        key = None
        if origin is not None:
            dlq_headers["dlq_partition"] = str(origin.partition)
            dlq_headers["dlq_offset"] = str(origin.offset)
            key = origin.key
        await self._broker.publish(value, dead_letter(self.topic), key=key, headers=dlq_headers)
        metrics.DEAD_LETTERS.labels(self.topic).inc()
        log.warning("%s: message dead-lettered to %s: %s", self.group, dead_letter(self.topic), reason)


async def _raw_body(message: Any) -> Any:
    """Hand the handler the raw bytes: decoding and its errors are ours, not FastStream's."""
    return message.body


def _brief(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(item) for item in error["loc"]) or "(data)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)
