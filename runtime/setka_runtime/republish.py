"""Re-publish a service's whole outbox history into a Kafka cluster, e.g. a new and empty one.

Every row of the ``outbox`` table goes out again, published or not, in id order, as the very
message the relay sent (the same topic, key, body and ``ce_*`` headers: the relay's own code
builds it), after the topics (and their dead-letter topics) are created. Consumers keep an inbox
by event id, so what they already applied is absorbed as a duplicate, and a consumer group that
starts from nothing (a new cluster, a new service) reads the whole history.

The database is only read: rows are not marked, so the service's own relay keeps its state.

When to run it: against a cluster the services' relays do not publish into yet (the services
stopped, or before they reconnect) the new cluster receives each key's events in their original
order. A relay that publishes new events into the same cluster meanwhile is harmless to consumers
that had applied the older events already (the usual case: re-publishing recovers a broker that
forgot its log); one that had not may then see a key's older event after a newer one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka.errors import TopicAlreadyExistsError
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from .db import Database
from .kafka import client_options, ensure_topics, make_broker, sender
from .outbox import OutboxRelay
from .settings import ServiceSettings
from .tables import outbox

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
"""progress(sent, total): called once before the first batch and after every batch."""


class RepublishError(RuntimeError):
    """The broker did not acknowledge every message; nothing is lost, run the command again."""


class _Unfenced:
    """The relay's fence when it only builds and sends messages: re-publishing marks nothing."""

    standby_seconds = 1.0

    def __init__(self, ack_seconds: float) -> None:
        self._ack_seconds = ack_seconds

    async def acquire(self) -> bool:
        return True

    async def renew(self, session: Any = None) -> float:
        return time.monotonic() + self._ack_seconds

    async def mark(self, ids: set[int]) -> None:
        return None

    async def release(self) -> None:
        return None

    def describe(self) -> str:
        return "re-publishing (nothing is marked)"


async def _unused_publish(topic: str, key: str, body: bytes, headers: dict[str, str]) -> None:
    raise AssertionError("re-publishing sends through the producer's futures")


async def outbox_summary(db: Database) -> tuple[int, list[str]]:
    """How many rows the outbox holds, and the topics they go to."""
    async with db.session() as session:
        total = int(await session.scalar(select(func.count()).select_from(outbox)) or 0)
        topics = sorted((await session.scalars(select(outbox.c.topic).distinct())).all())
    return total, topics


async def send_history(
    db: Database,
    send: Callable[[str, str, bytes, dict[str, str]], Any],
    *,
    batch_size: int = 500,
    ack_seconds: float = 30.0,
    progress: Progress | None = None,
) -> int:
    """Hand every outbox row to ``send`` (the producer's ``send``, see
    :func:`setka_runtime.kafka.sender`) in id order, a batch at a time, awaiting each batch's
    acknowledgements; return how many were sent. Raise :class:`RepublishError` when a batch is not
    acknowledged in full within ``ack_seconds``."""
    relay = OutboxRelay(db, _unused_publish, send=send, fence=_Unfenced(ack_seconds))
    total, _ = await outbox_summary(db)
    if progress is not None:
        progress(0, total)
    sent, last_id = 0, None
    while True:
        query = select(outbox).order_by(outbox.c.id).limit(batch_size)
        if last_id is not None:
            query = query.where(outbox.c.id > last_id)
        async with db.session() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return sent
        deadline = await relay.fence.renew()
        # the relay's own message building and acknowledgement bookkeeping
        acknowledged = await relay._send_all(rows, deadline)
        if len(acknowledged) < len(rows):
            raise RepublishError(
                f"{len(rows) - len(acknowledged)} of {len(rows)} events after {sent} were not "
                "acknowledged by the broker; run the re-publishing again (consumers drop duplicates)"
            )
        sent += len(rows)
        last_id = rows[-1].id
        if progress is not None:
            progress(sent, max(total, sent))


async def republish(
    database_url: str,
    bootstrap_servers: str,
    *,
    settings: ServiceSettings | None = None,
    extra_topics: list[str] | None = None,
    batch_size: int = 500,
    progress: bool | Progress = False,
) -> int:
    """Create the outbox's topics (and ``extra_topics``) with their dead-letter topics in the
    cluster at ``bootstrap_servers``, then re-publish the whole outbox of the database at
    ``database_url``; return how many events were published.

    ``settings`` gives the clients' options (TLS, SASL, idempotence) and the partitions and
    replication of the topics created (default: the shared ``KAFKA_*`` variables); its own
    bootstrap servers and database are not used. ``progress``: a :data:`Progress` callback, or
    True to log each batch."""
    base = settings or ServiceSettings(internal_token_secret=None)
    settings = base.model_copy(update={"kafka_bootstrap_servers": bootstrap_servers})
    db = Database(database_url)
    try:
        _, topics = await outbox_summary(db)
        wanted = list(dict.fromkeys([*topics, *(extra_topics or [])]))
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):  # another process created them
                created = await ensure_topics(
                    client_options(settings),
                    wanted,
                    partitions=settings.kafka_topic_partitions,
                    replication_factor=settings.kafka_replication_factor,
                )
                if created:
                    log.info("republish: created topics %s", ", ".join(created))
        broker = make_broker(settings, client_id=f"{settings.service_name}-republish")
        await broker.start()
        try:
            report = progress if callable(progress) else _logged if progress else None
            sent = await send_history(db, sender(broker), batch_size=batch_size, progress=report)
        finally:
            await broker.stop()
        shown = make_url(database_url).render_as_string(hide_password=True)
        log.info("republish: %d events of %s published to %s", sent, shown, bootstrap_servers)
        return sent
    finally:
        await db.dispose()


def _logged(sent: int, total: int) -> None:
    log.info("republish: %d of %d events", sent, total)


def republish_sync(database_url: str, bootstrap_servers: str, **options: Any) -> int:
    """:func:`republish` from synchronous code (a launcher's thread, a command)."""
    return asyncio.run(republish(database_url, bootstrap_servers, **options))
