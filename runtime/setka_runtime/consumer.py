"""Guarded consumers: every message ends applied, parked or dead-lettered, and a batch is one
transaction.

A :class:`Subscription` reads records of one consumer group in batches straight from aiokafka
(FastStream's parser decodes every header as UTF-8 before any code of ours runs, so one header of
bad bytes from a regional system would stall a partition there). Each topic's records go to its
:class:`GuardedConsumer`, which:

1. reads each record — envelope, strict JSON, contract — and dead-letters at once whatever cannot
   be read, whatever the exception;
2. applies the rest in one transaction: a bulk inbox claim (so a redelivery changes nothing), the
   handlers in arrival order (a *batch handler* takes a whole run of one type and applies the
   domain rules per message with bulk reads and writes), the claims of messages that were not
   applied released again;
3. after the commit, parks the messages that refer to something not known yet and dead-letters
   the ones the rules rejected; only then are the offsets committed.

If a batch fails for a reason of one of its messages, it is rolled back and its messages are
applied one at a time, in order, so the bad one is isolated (retried a bounded number of times,
then dead-lettered) and the others go on. If the database or the broker is unavailable, nothing
counts as an attempt: the consumer waits with bounded backoff and tries the same batch again,
readiness saying why meanwhile; nothing is committed and nothing is skipped.

A broker can come back without the log it had (the local in-memory broker restarted; a cluster
rebuilt). A :class:`Subscription` notices it by the cluster id changing, or by a position beyond
a partition's end, and reads the partitions again from the start of what exists — the inbox
makes the repeats change nothing — instead of waiting at positions the new log may never reach,
or, worse, skipping what the new log holds before them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import MessageSizeTooLargeError
from faststream.kafka import KafkaBroker
from pydantic import ValidationError
from setka_contracts import CloudEvent, EnvelopeError, EventData, decode_headers, parse, printable_header
from setka_contracts.topics import dead_letter
from sqlalchemy.ext.asyncio import AsyncSession

from . import inbox, logs, metrics, tracing
from .db import Database
from .deadletters import reason_kind
from .errors import NotYetKnown, PermanentError
from .faults import is_infrastructure
from .kafka import Connection, as_options

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]
"""handler(session, data, event): apply one event inside the caller's transaction.

Raise :class:`PermanentError` to reject the message (dead-letter topic) and :class:`NotYetKnown`
when it refers to something not known yet (it waits)."""


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """A message a consumer has just dead-lettered (the broker has it), for a service to note.

    ``value`` is the body, to look into (which organization a fact names), never to keep: it may
    hold personal data."""

    topic: str
    reason: str
    kind: str
    """:func:`~setka_runtime.deadletters.reason_kind` of the reason: what letters are counted by."""
    headers: Mapping[str, str]
    value: bytes
    at: datetime


DeadLetterHook = Callable[[DeadLettered], Awaitable[None]]
"""What a service does with each dead letter besides the dead-letter topic (e.g. count it)."""


@dataclass(slots=True)
class Item:
    """One readable message of a batch, as a batch handler sees it."""

    data: Any
    """The event's data, validated against its contract model."""
    event: CloudEvent
    value: bytes
    headers: dict[str, str]
    key: bytes | None = None
    partition: int | str = ""
    offset: int | str = ""
    outcome: str = "processed"
    reason: str = ""
    span: Any = None
    """The message's consumer span (:mod:`setka_runtime.tracing`), current while it is applied."""

    def reject(self, reason: str) -> None:
        """The message breaks a rule: nothing of it may be written; it goes to the dead-letter topic."""
        self.outcome, self.reason = "dead-lettered", f"rejected: {reason}"

    def defer(self, reason: str) -> None:
        """The message refers to something not known yet: nothing of it is written; it waits."""
        self.outcome, self.reason = "deferred", reason

    @property
    def pending(self) -> bool:
        """Still to be applied (not rejected, deferred or found a duplicate)."""
        return self.outcome == "processed"

    @property
    def identity(self) -> inbox.EventKey:
        return (self.event.source, self.event.id)


BatchHandler = Callable[[AsyncSession, list[Item]], Awaitable[None]]
"""handler(session, items): apply a run of events of one type, in order, in the caller's transaction.

Apply the rules to each item as the single-message handler would, reading and writing in bulk;
call ``item.reject(reason)`` or ``item.defer(reason)`` for an item that must leave no effect.
Raise only for the unexpected: the batch is then rolled back and applied one message at a time."""


Gate = Callable[[AsyncSession, str, list[Item]], Awaitable[None]]
"""gate(session, topic, items): a check every readable message of a topic passes before its
handler, in the handler's transaction, whichever way it came in (a Kafka record, a fact received
over HTTP, a waiting message handed back). It may reject or defer items (they leave no effect) and
replace an item's ``data``, ``value`` or ``headers`` (e.g. with references resolved)."""


def batch(handler: BatchHandler) -> BatchHandler:
    """Mark ``handler`` as a :data:`BatchHandler` in a consumer's handler map."""
    handler.setka_batch = True  # type: ignore[attr-defined]
    return handler


def one_at_a_time(handler: BatchHandler) -> Handler:
    """A batch handler as a per-message handler (for code that applies one event, like demo data):
    an item it rejects raises :class:`PermanentError`, one it defers :class:`NotYetKnown`."""

    async def apply(session: AsyncSession, data: Any, event: CloudEvent) -> None:
        item = Item(data=data, event=event, value=b"", headers={})
        await handler(session, [item])
        if item.outcome == "dead-lettered":
            raise PermanentError(item.reason.removeprefix("rejected: "))
        if item.outcome == "deferred":
            raise NotYetKnown(item.reason)

    return apply


async def apply(handler: Handler | BatchHandler, session: AsyncSession, data: Any, event: CloudEvent) -> None:
    """Apply one event with a handler of either kind (a batch handler as a batch of one)."""
    if _is_batch(handler):
        await one_at_a_time(handler)(session, data, event)  # type: ignore[arg-type]
    else:
        await handler(session, data, event)  # type: ignore[call-arg]


def _is_batch(handler: Any) -> bool:
    return bool(getattr(handler, "setka_batch", False))


@dataclass(slots=True)
class Record:
    """What a guarded consumer needs of a Kafka record (a deferred message has no offset)."""

    value: bytes
    headers: dict[str, str]
    key: bytes | None = None
    partition: int | str = ""
    offset: int | str = ""


@dataclass
class Health:
    """Why the consumers of a process are not making progress, if they are not."""

    waiting: dict[str, str] = field(default_factory=dict)

    def trouble(self, who: str, reason: str) -> None:
        self.waiting[who] = reason

    def clear(self, who: str) -> None:
        self.waiting.pop(who, None)


class Backoff:
    """Pauses that double from ``first`` up to ``limit`` seconds, for waiting out an outage."""

    def __init__(self, first: float, limit: float = 10.0) -> None:
        self.first, self.limit, self.next = first, limit, first

    async def wait(self) -> None:
        await asyncio.sleep(self.next)
        self.next = min(self.next * 2, self.limit)


def read_record(
    record: Record,
    models: Mapping[str, type[EventData]],
    *,
    topic: str,
    reject_unknown_types: bool = True,
) -> Item | str:
    """What every way in does first with a message: read its envelope (strict JSON), find its
    contract by ``ce_type`` among ``models`` and check its data. Returns an :class:`Item`,
    ``"ignored"`` (a type with no model, when unknown types are not rejected), or the reason it
    cannot be read, as the dead-letter topic gives it. Never raises."""
    try:
        event = parse(record.headers, record.value)
    except EnvelopeError as exc:
        return f"invalid envelope: {exc}"
    except Exception as exc:  # a reader must never let a record stop the partition
        return f"invalid envelope: {type(exc).__name__}: {exc}"
    model = models.get(event.type)
    if model is None:
        if reject_unknown_types:
            accepted = ", ".join(sorted(models))
            return f"type {event.type!r} is not accepted on {topic}; accepted: {accepted}"
        return "ignored"  # a type this consumer does not need, or a newer version
    try:
        data = model.model_validate(event.data)
    except ValidationError as exc:
        return f"does not match {event.type}: {brief(exc)}"
    except Exception as exc:
        return f"does not match {event.type}: {type(exc).__name__}: {exc}"
    return Item(
        data=data,
        event=event,
        value=record.value,
        headers=record.headers,
        key=record.key,
        partition=record.partition,
        offset=record.offset,
    )


class GuardedConsumer:
    """The handlers of one topic in one consumer group, dispatched by ``ce_type``."""

    deferrals: Any = None
    """A :class:`~setka_runtime.deferred.Deferrals` that parks ``NotYetKnown`` messages, if set."""
    reject_unknown_types: bool = False
    """Dead-letter types with no handler (an inbound topic) instead of ignoring them."""
    gate: Gate | None = None
    """Checked on every message not seen before, before its handler (see :data:`Gate`)."""
    on_dead_letter: DeadLetterHook | None = None
    """Called once the dead-letter topic has a message; its failure is logged, never retried
    past an outage of the database, and never holds the partition."""

    def __init__(
        self,
        *,
        topic: str,
        group: str,
        db: Database,
        broker: KafkaBroker,
        handlers: Mapping[type[EventData], Handler | BatchHandler],
        max_attempts: int = 5,
        backoff_seconds: float = 0.2,
        health: Health | None = None,
    ) -> None:
        self.topic = topic
        self.group = group
        self._db = db
        self._broker = broker
        self._handlers = {model.event_type: (model, handler) for model, handler in handlers.items()}
        self._models = {name: model for name, (model, _) in self._handlers.items()}
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self.health = health or Health()

    # -- reading -------------------------------------------------------------------------------

    def _read(self, record: Record) -> Item | str:
        """The record as an :class:`Item`, ``"ignored"``, or the reason it cannot be read.

        On a topic whose other types this consumer ignores (a domain topic that several groups
        read), a record whose ``ce_type`` header names a type it has no handler for is ignored
        without reading the rest: the groups that handle the type check its envelope and
        dead-letter it if it is broken."""
        if not self.reject_unknown_types:
            named = record.headers.get("ce_type")
            if named is not None and named not in self._models:
                return "ignored"
        return read_record(
            record, self._models, topic=self.topic, reject_unknown_types=self.reject_unknown_types
        )

    # -- one batch -----------------------------------------------------------------------------

    async def process(self, records: Sequence[Record]) -> list[str]:
        """Handle records in order; return each one's outcome. Returns only when every record
        has ended applied, parked, ignored, a duplicate, or dead-lettered."""
        return [outcome for outcome, _ in await self.process_explained(records)]

    async def process_explained(self, records: Sequence[Record]) -> list[tuple[str, str]]:
        """:meth:`process`, with each record's outcome and its reason (the dead-letter reason, or
        why it waits; empty when applied): the single entry of every way a message comes in."""
        started = time.perf_counter()
        outcomes: list[str] = ["processed"] * len(records)
        reasons: list[str] = [""] * len(records)
        items: list[tuple[int, Item]] = []
        for index, record in enumerate(records):
            read = self._read(record)
            if isinstance(read, Item):
                read.span = self._span(record)
                items.append((index, read))
            elif read == "ignored":
                outcomes[index] = "ignored"
            else:
                span = self._span(record)
                with tracing.current(span):
                    await self.dead_letter(record.value, record.headers, read, record)
                tracing.finish(span, error=read, attributes={"setka.outcome": "dead-lettered"})
                outcomes[index], reasons[index] = "dead-lettered", read
        if items:
            try:
                applied = await self._apply([item for _, item in items])
            finally:
                for _, item in items:
                    failed = item.outcome == "dead-lettered"
                    tracing.finish(
                        item.span,
                        error=item.reason if failed else "",
                        attributes={"setka.outcome": item.outcome, "setka.reason": item.reason[:500]},
                    )
            for (index, item), outcome in zip(items, applied, strict=True):
                outcomes[index], reasons[index] = outcome, item.reason
        elapsed = time.perf_counter() - started
        for record, outcome in zip(records, outcomes, strict=True):
            event_type = printable_header(record.headers.get("ce_type", "?")[:200])
            metrics.MESSAGES.labels(self.topic, event_type, outcome).inc()
        if records:
            metrics.HANDLING_SECONDS.labels(self.topic).observe(elapsed / len(records))
        return list(zip(outcomes, reasons, strict=True))

    def _span(self, record: Record) -> tracing.Span:
        """The consumer span of a message: a child of its ``ce_traceparent``, else a new trace
        that starts here, known by the message's ``ce_id``."""
        headers = record.headers
        if not tracing.enabled():  # no attributes to gather: only the sender's context goes on
            return tracing.start("", parent=tracing.extract(headers))
        return tracing.start(
            f"{self.topic} process",
            component="consumer",
            kind=tracing.SpanKind.CONSUMER,
            parent=tracing.extract(headers),
            attributes={
                "messaging.system": "kafka",
                "messaging.operation.type": "process",
                "messaging.destination.name": self.topic,
                "messaging.consumer.group.name": self.group,
                "messaging.destination.partition.id": str(record.partition),
                "messaging.kafka.offset": record.offset if isinstance(record.offset, int) else None,
                "cloudevents.event_id": headers.get("ce_id"),
                "cloudevents.event_type": headers.get("ce_type"),
                "cloudevents.event_source": headers.get("ce_source"),
                "ce_id": headers.get("ce_id"),
                "ce_type": headers.get("ce_type"),
            },
        )

    async def handle(self, value: bytes, headers: Mapping[str, str], *, origin: Any = None) -> str:
        """Handle one message (a deferred one handed back, or a test's); return its outcome."""
        record = Record(
            value=value,
            headers=dict(headers),
            key=getattr(origin, "key", None),
            partition=getattr(origin, "partition", ""),
            offset=getattr(origin, "offset", ""),
        )
        return (await self.process([record]))[0]

    async def _apply(self, items: list[Item]) -> list[str]:
        """Apply readable items: the whole batch at once, else one by one."""
        if len(items) > 1:
            try:
                await self._until_infrastructure_is_back(lambda: self._transaction(items))
            except Exception as exc:
                log.info(
                    "%s: a batch of %d on %s failed (%s: %s); applying its messages one by one",
                    self.group,
                    len(items),
                    self.topic,
                    type(exc).__name__,
                    exc,
                )
                for item in items:
                    item.outcome, item.reason = "processed", ""
            else:
                await self._settle(items)
                return [item.outcome for item in items]
        for item in items:
            await self._apply_alone(item)
        return [item.outcome for item in items]

    async def _apply_alone(self, item: Item) -> None:
        with tracing.current(item.span), logs.traced(tracing.current_traceparent()):
            await self._apply_alone_traced(item)

    async def _apply_alone_traced(self, item: Item) -> None:
        for attempt in range(1, self._max_attempts + 1):
            item.outcome, item.reason = "processed", ""
            try:
                await self._until_infrastructure_is_back(lambda: self._transaction([item]))
            except PermanentError as exc:
                item.reject(str(exc))
            except NotYetKnown as exc:
                if self.deferrals is not None:
                    item.defer(str(exc))
                elif attempt < self._max_attempts:
                    await self._pause(item, attempt, exc)
                    continue
                else:
                    item.outcome = "dead-lettered"
                    item.reason = f"failed after {attempt} attempts: NotYetKnown: {exc}"
            except Exception as exc:
                if attempt < self._max_attempts:
                    await self._pause(item, attempt, exc)
                    continue
                item.outcome = "dead-lettered"
                item.reason = f"failed after {attempt} attempts: {type(exc).__name__}: {exc}"
            await self._settle([item])
            return

    async def _pause(self, item: Item, attempt: int, exc: BaseException) -> None:
        delay = self._backoff_seconds * 2 ** (attempt - 1)
        log.warning(
            "%s: %s %s failed (attempt %d/%d: %s: %s); retrying in %.2fs",
            self.group,
            item.event.type,
            item.event.id,
            attempt,
            self._max_attempts,
            type(exc).__name__,
            exc,
            delay,
        )
        await asyncio.sleep(delay)

    async def _transaction(self, items: list[Item]) -> None:
        """Claim, apply and release in one transaction; raise if it must be rolled back."""
        for item in items:
            item.outcome, item.reason = "processed", ""
        alone = len(items) == 1
        async with self._db.session() as session, session.begin():
            fresh = await inbox.claim_many(
                session,
                consumer=self.group,
                events=[(item.event.source, item.event.id, item.event.type) for item in items],
            )
            for item in items:
                if item.identity in fresh:
                    fresh.discard(item.identity)  # a second copy in the same batch is a duplicate
                else:
                    item.outcome = "duplicate"
            if self.gate is not None and any(item.pending for item in items):
                await self.gate(session, self.topic, [item for item in items if item.pending])
            savepoints = not alone and session.get_bind().dialect.name == "postgresql"
            for run in _runs([item for item in items if item.pending]):
                _, handler = self._handlers[run[0].event.type]
                if _is_batch(handler):
                    with _batch_span(self.topic, run):  # what it records continues these traces
                        await handler(session, run)
                    continue
                for item in run:
                    if alone:
                        with tracing.current(item.span):  # its errors end the transaction
                            await handler(session, item.data, item.event)
                        continue
                    if not savepoints:
                        try:
                            with tracing.current(item.span):
                                await handler(session, item.data, item.event)
                        except (PermanentError, NotYetKnown):
                            raise  # no savepoints here: let the messages go one by one
                        continue
                    try:
                        async with session.begin_nested():
                            with tracing.current(item.span):
                                await handler(session, item.data, item.event)
                    except PermanentError as exc:
                        item.reject(str(exc))
                    except NotYetKnown as exc:
                        item.defer(str(exc))
            unapplied = [item for item in items if item.outcome in ("dead-lettered", "deferred")]
            if unapplied and self.deferrals is None and any(i.outcome == "deferred" for i in unapplied):
                if alone:
                    raise NotYetKnown(unapplied[0].reason)
                raise NotYetKnown("a message of the batch refers to something not known yet")
            if unapplied:
                await inbox.release_many(
                    session, consumer=self.group, keys=[item.identity for item in unapplied]
                )

    async def _settle(self, items: Sequence[Item]) -> None:
        """After the commit: park what waits, dead-letter what was rejected."""
        for item in items:
            if item.outcome == "deferred":
                if self.deferrals is not None:
                    # the waiting room dead-letters by itself a message that waited too long
                    item.outcome = await self._until_infrastructure_is_back(
                        lambda item=item: self.deferrals.defer(
                            self, item.value, item.headers, item.reason, item
                        )
                    )
                    continue
                item.outcome = "dead-lettered"
            if item.outcome == "dead-lettered":
                await self.dead_letter(item.value, item.headers, item.reason, item)

    async def _until_infrastructure_is_back(self, work: Callable[[], Awaitable[Any]]) -> Any:
        """Run ``work``; while the database or broker is unavailable, wait and run it again."""
        backoff = Backoff(max(self._backoff_seconds, 0.1))
        who = f"{self.group} {self.topic}"
        while True:
            try:
                result = await work()
            except Exception as exc:
                if not is_infrastructure(exc):
                    self.health.clear(who)
                    raise
                reason = f"{type(exc).__name__}: {exc}"[:300]
                self.health.trouble(who, reason)
                metrics.INFRASTRUCTURE_WAITS.labels(self.topic).inc()
                log.warning("%s: waiting for the database or broker (%s); retrying", who, reason)
                await backoff.wait()
                continue
            self.health.clear(who)
            return result

    # -- dead letters --------------------------------------------------------------------------

    async def dead_letter(self, value: bytes, headers: Mapping[str, str], reason: str, origin: Any) -> None:
        """Send the original message with the reason to ``<topic>.dlq``; wait until the broker has it.

        Until it does, the offset is not committed: a message is never skipped. Header bytes that
        were not UTF-8 are written as ``\\xNN`` text (a header must be valid text to be sent)."""
        dlq_headers = {
            printable_header(name): printable_header(value[:8192])[:8192]
            for name, value in list(headers.items())[:64]
        }
        dlq_headers.update(
            {
                "dlq_reason": printable_header(reason[:2000]),
                "dlq_topic": self.topic,
                "dlq_consumer": self.group,
                "dlq_failed_at": datetime.now(UTC).isoformat(),
                "dlq_partition": str(getattr(origin, "partition", "")),
                "dlq_offset": str(getattr(origin, "offset", "")),
            }
        )
        key = getattr(origin, "key", None)
        target = dead_letter(self.topic)
        with logs.traced(traceparent(headers)):
            await self._dead_letter(value, key, target, dlq_headers)

    async def _dead_letter(
        self, value: bytes, key: bytes | None, target: str, dlq_headers: dict[str, str]
    ) -> None:
        async def send() -> None:
            try:
                await self._broker.publish(value, target, key=key, headers=dlq_headers)
            except MessageSizeTooLargeError:
                # too big for the dead-letter topic: keep the reason, the key, the headers and the size
                dlq_headers["dlq_body_omitted"] = f"{len(value)} bytes, too large for {target}"
                await self._broker.publish(b"", target, key=key, headers=dlq_headers)

        backoff = Backoff(max(self._backoff_seconds, 0.1))
        while True:
            try:
                await send()
                break
            except Exception as exc:
                self.health.trouble(f"{self.group} {target}", f"cannot publish to {target}: {exc}"[:300])
                log.warning("%s: cannot dead-letter to %s (%s); retrying", self.group, target, exc)
                await backoff.wait()
        self.health.clear(f"{self.group} {target}")
        kind = reason_kind(dlq_headers["dlq_reason"])
        metrics.DEAD_LETTERS.labels(self.topic, kind).inc()
        # the reason's kind only: a full reason may quote the message's data (names, СНИЛС)
        log.warning("%s: message dead-lettered to %s: %s", self.group, target, kind)
        if self.on_dead_letter is not None:
            await self._note(
                DeadLettered(
                    topic=self.topic,
                    reason=dlq_headers["dlq_reason"],
                    kind=kind,
                    headers=dlq_headers,
                    value=value,
                    at=datetime.now(UTC),
                )
            )

    async def _note(self, letter: DeadLettered) -> None:
        assert self.on_dead_letter is not None
        hook = self.on_dead_letter
        try:
            await self._until_infrastructure_is_back(lambda: hook(letter))
        except Exception:
            log.exception("%s: a dead letter of %s was not noted", self.group, self.topic)


def traceparent(headers: Mapping[str, str]) -> str | None:
    """The W3C trace context a message carries (CloudEvents' distributed-tracing extension)."""
    return headers.get("traceparent") or headers.get("ce_traceparent")


@contextlib.contextmanager
def _batch_span(topic: str, run: list[Item]) -> Iterator[None]:
    """Current while a batch handler applies ``run``: the message's own span for a run of one;
    for more, a span of the batch, a child of the first message's, linked to every message's."""
    if len(run) == 1:
        with tracing.current(run[0].span):
            yield
        return
    with tracing.current(run[0].span):
        with tracing.span(
            f"{topic} process batch",
            component="consumer",
            links=[item.span for item in run[1:] if item.span is not None],
            attributes={"messaging.batch.message_count": len(run)},
        ):
            yield


def _runs(items: list[Item]) -> list[list[Item]]:
    """Consecutive items of one event type, in order."""
    runs: list[list[Item]] = []
    for item in items:
        if runs and runs[-1][0].event.type == item.event.type:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def brief(exc: ValidationError) -> str:
    """A contract violation in a line a sender can act on: the first five fields and what is wrong."""
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(item) for item in error["loc"]) or "(data)"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)[:1500]


@dataclass(frozen=True, slots=True)
class LogReset:
    """A partition read again from its start because the broker lost the log it was read from."""

    topic: str
    partition: int
    position: int | None
    """Where the group stood in the lost log (None: being reset or reassigned as it was noticed)."""
    start: int
    """Where it reads from now."""
    reason: str


class Subscription:
    """One consumer group reading its topics in batches and routing records to their consumers."""

    def __init__(
        self,
        *,
        bootstrap_servers: Connection,
        group: str,
        consumers: Sequence[GuardedConsumer],
        client_id: str,
        max_records: int = 500,
        graceful_seconds: float = 10.0,
        health: Health | None = None,
    ) -> None:
        wrong = [c.topic for c in consumers if c.group != group]
        if wrong:
            raise ValueError(f"consumers of {', '.join(wrong)} are not in group {group}")
        self.group = group
        self._by_topic = {consumer.topic: consumer for consumer in consumers}
        self._bootstrap = bootstrap_servers
        self._client_id = client_id
        self._max_records = max_records
        self._graceful = graceful_seconds
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.health = health or Health()
        self.assigned = asyncio.Event()
        """Set once the group has given this process its partitions (tests and benchmarks wait)."""
        self._admin: AIOKafkaAdminClient | None = None
        self._cluster_id: str | None = None
        self._checked_at = 0.0
        self.resets: list[LogReset] = []
        """Every time this subscription read partitions again because the broker lost its log."""
        self._committed: dict[TopicPartition, int] = {}
        """The offsets this process committed last, per partition (for the lag it reports)."""
        self._lag_reported: set[TopicPartition] = set()

    LOG_CHECK_SECONDS = 1.0
    ASK_SECONDS = 2.0

    @property
    def topics(self) -> list[str]:
        return list(self._by_topic)

    async def start(self) -> None:
        """Join the group; raise if the broker cannot be reached (the caller retries)."""
        consumer = AIOKafkaConsumer(
            *self._by_topic,
            **as_options(self._bootstrap),
            group_id=self.group,
            client_id=self._client_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._max_records,
            max_poll_interval_ms=3_600_000,  # an outage waited out inside a batch is not a dead consumer
        )
        await consumer.start()
        self._consumer = consumer
        try:
            self._admin = AIOKafkaAdminClient(**as_options(self._bootstrap), client_id=self._client_id)
            await self._admin.start()
            self._cluster_id = await self._current_cluster_id()
        except Exception:
            await consumer.stop()
            if self._admin is not None:
                with contextlib.suppress(Exception):
                    await self._admin.close()
            raise
        self._task = asyncio.create_task(self._run(), name=f"consume {self.group}")

    async def _run(self) -> None:
        assert self._consumer is not None
        backoff = Backoff(0.5)
        while not self._stopping.is_set():
            try:
                batches = await self._consumer.getmany(timeout_ms=500, max_records=self._max_records)
                if self._consumer.assignment():
                    self.assigned.set()
                if time.monotonic() - self._checked_at >= self.LOG_CHECK_SECONDS:
                    await self._check_log()
                if not batches:
                    continue
                await self._handle(batches)
                self.health.clear(f"{self.group} broker")
                backoff = Backoff(0.5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let the loop end: wait and read again
                self.health.trouble(f"{self.group} broker", f"{type(exc).__name__}: {exc}"[:300])
                log.warning("%s: consuming failed (%s: %s); retrying", self.group, type(exc).__name__, exc)
                await backoff.wait()

    async def _handle(self, batches: Mapping[TopicPartition, Sequence[Any]]) -> None:
        """Handle one fetch: per topic one batch (partitions kept in order), then commit offsets."""
        by_topic: dict[str, list[Record]] = {}
        for partition, records in batches.items():
            by_topic.setdefault(partition.topic, []).extend(
                Record(
                    value=record.value or b"",
                    headers=decode_headers(record.headers or []),
                    key=record.key,
                    partition=record.partition,
                    offset=record.offset,
                )
                for record in records
            )
        for topic, records in by_topic.items():
            await self._by_topic[topic].process(records)
        offsets = {partition: records[-1].offset + 1 for partition, records in batches.items() if records}
        assert self._consumer is not None
        if await self._broker_replaced():
            # the batch came from the broker that is gone: committing its offsets on the new one
            # would make the group skip what the new log holds before them
            return
        try:
            await self._consumer.commit(offsets)
            self._committed.update(offsets)
            self._report_lag()
        except Exception as exc:
            # the partitions moved to another member meanwhile: it reads them again, and the inbox
            # makes the repeat change nothing
            log.warning("%s: offsets not committed (%s); the messages will be read again", self.group, exc)

    # -- a broker that lost its log --------------------------------------------------------------

    async def _current_cluster_id(self) -> str | None:
        """The cluster id the broker gives now; None if it cannot say within a few seconds."""
        assert self._admin is not None
        try:
            described = await asyncio.wait_for(self._admin.describe_cluster(), self.ASK_SECONDS)
        except TimeoutError:
            return None
        return str(described.get("cluster_id") or "") or None

    async def _position(self, partition: TopicPartition) -> int | None:
        """Where the group reads ``partition``; None while it is being reset or reassigned (the
        consumer would otherwise wait for that, holding up the loop)."""
        assert self._consumer is not None
        try:
            return await asyncio.wait_for(self._consumer.position(partition), self.ASK_SECONDS)
        except Exception:
            return None

    async def _broker_replaced(self) -> bool:
        """Whether the cluster id changed since last asked; if so, read every assigned partition
        again from its start."""
        self._checked_at = time.monotonic()
        current = await self._current_cluster_id()
        previous = self._cluster_id
        if current is None or previous is None or current == previous:
            self._cluster_id = self._cluster_id or current
            return False
        self._cluster_id = current
        assert self._consumer is not None
        await self._read_again(
            sorted(self._consumer.assignment()),
            f"the broker was replaced (cluster id {previous} → {current}): a log not read so far",
        )
        return True

    async def _check_log(self) -> None:
        """Read again from the start any partition whose position is beyond the end of its log
        (only a log that was lost does that; the broker would otherwise never reach it)."""
        if await self._broker_replaced():
            return
        assert self._consumer is not None
        beyond: list[TopicPartition] = []
        positions: dict[TopicPartition, int] = {}
        for partition in sorted(self._consumer.assignment()):
            end = self._consumer.highwater(partition)
            if end is None:
                continue
            position = await self._position(partition)
            if position is None:
                continue
            positions[partition] = position
            if position > end:
                beyond.append(partition)
        self._report_lag(positions)
        if beyond:
            await self._read_again(beyond, "the position is beyond the end of the log: the broker lost it")

    async def _read_again(self, partitions: Sequence[TopicPartition], why: str) -> None:
        assert self._consumer is not None
        if not partitions:
            return
        starts = await self._consumer.beginning_offsets(list(partitions))
        for partition in partitions:
            position = await self._position(partition)
            reset = LogReset(
                topic=partition.topic,
                partition=partition.partition,
                position=position,
                start=starts.get(partition, 0),
                reason=why,
            )
            self.resets.append(reset)
            metrics.LOG_RESETS.labels(self.group, partition.topic).inc()
            log.warning(
                "%s: reading %s[%d] again from offset %d (it stood at %s): %s; what the old broker "
                "held and this group had not read is lost with it",
                self.group,
                partition.topic,
                partition.partition,
                reset.start,
                "an unknown offset" if position is None else f"offset {position}",
                why,
            )
            with contextlib.suppress(Exception):  # unassigned meanwhile: its new owner starts afresh
                self._consumer.seek(partition, reset.start)
        with contextlib.suppress(Exception):
            # so that a restart of this process does not pick up the old positions either
            restarted = {partition: starts.get(partition, 0) for partition in partitions}
            await self._consumer.commit(restarted)
            self._committed.update(restarted)

    def _report_lag(self, positions: Mapping[TopicPartition, int] | None = None) -> None:
        """Set ``setka_consumer_lag`` of every assigned partition from the consumer's own view: the
        end offset of the last fetch minus what this process committed (or, before its first
        commit there, the position it reads from); drop the series of partitions no longer here."""
        assert self._consumer is not None
        assigned = set(self._consumer.assignment())
        for partition in assigned:
            end = self._consumer.highwater(partition)
            done = self._committed.get(partition, (positions or {}).get(partition))
            if end is None or done is None:
                continue
            metrics.CONSUMER_LAG.labels(self.group, partition.topic, str(partition.partition)).set(
                max(0, end - done)
            )
            self._lag_reported.add(partition)
        for partition in self._lag_reported - assigned:
            self._committed.pop(partition, None)
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(self.group, partition.topic, str(partition.partition))
        self._lag_reported &= assigned

    def check(self) -> None:
        """Raise when the loop has ended or is waiting for the database or the broker."""
        if self._task is None:
            raise ConnectionError(f"{self.group}: not consuming yet")
        if self._task.done():
            raise RuntimeError(f"{self.group}: the consumer has stopped")

    async def stop(self) -> None:
        """Let the batch in hand finish (up to the graceful time), then leave the group.

        A batch cut short commits nothing: the next run reads it again."""
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), self._graceful)
            except (TimeoutError, Exception):
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await self._task
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.close()
