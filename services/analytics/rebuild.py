"""Rebuild the read models: empty them and read every event again from the earliest offsets.

``python -m services.analytics rebuild``, run while analytics is stopped (every instance):

1. moves the committed offsets of the consumer group (``setka.analytics``) on the topics it reads
   back to each partition's earliest offset. The command joins the group and commits as its only
   member, which any broker accepts; while another member still holds partitions (a running
   analytics — or, on the local Tansu broker, one stopped less than a session ago, about 10 to
   20 seconds) it waits, and gives up after ``--wait`` seconds without changing anything;
2. then, in one transaction, empties every table the projections keep
   (:data:`~services.analytics.projections.PROJECTED`), the group's inbox claims of their events
   and its waiting messages, if the database has a waiting room.

The audit trail (``setka.audit``, the ``audit_entry`` table) is not a read model and is left as it
is: its topic is not rewound, its table not emptied, its claims kept. An entry is kept once as it
was recorded, by its id, with no rule that a replay could change; and the trail must not have a
window in which it is empty, nor lose the entries the topic no longer holds (retention). A second
instance in a group of its own reads the trail too from the earliest offsets, as far as the topic
holds it.

When analytics starts again it reads every event again, and the projections build exactly the
state they had (their rules do not depend on how the events fall into batches).

Why offsets and not a new group id: the group id stays the one operators and monitoring know,
and nothing about past rebuilds has to be kept. Why offsets first: if emptying fails, running the
command again is safe; the other order could leave empty tables with the group resuming where it
was. Messages that were dead-lettered are dead-lettered again by the replay.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from setka_contracts.audit import AuditRecorded
from setka_runtime import audit
from setka_runtime.cli import Command
from setka_runtime.db import Database
from setka_runtime.deferred import deferred
from setka_runtime.kafka import Connection, as_options, client_options
from setka_runtime.settings import ServiceSettings
from setka_runtime.tables import inbox
from sqlalchemy import Table, delete, inspect, text
from sqlalchemy.ext.asyncio import AsyncSession

from .projections import CONSUMED, PROJECTED

log = logging.getLogger(__name__)


class GroupBusy(RuntimeError):
    """Another member of the consumer group holds partitions: analytics is still running."""


@dataclass(frozen=True)
class Rebuilt:
    group: str
    partitions: int
    """Partitions whose committed offset now is their earliest one."""
    claims: int
    """Inbox claims of the group removed (events that will be applied again)."""


def group_of(settings: ServiceSettings) -> str:
    """The consumer group analytics reads with (the same as every service's: ``setka.<name>``)."""
    return f"setka.{settings.service_name}"


async def rewind(connection: Connection, group: str, topics: list[str], *, wait_seconds: float) -> int:
    """Commit the earliest offset of every partition of ``topics`` (those that exist) for ``group``;
    return how many partitions. Raise :class:`GroupBusy` if the group is not ours within the wait."""
    admin = AIOKafkaAdminClient(**as_options(connection))
    await admin.start()
    try:
        existing = [topic for topic in topics if topic in set(await admin.list_topics())]
    finally:
        await admin.close()
    if not existing:
        return 0
    consumer = AIOKafkaConsumer(*existing, **as_options(connection), group_id=group, enable_auto_commit=False)
    try:
        try:
            async with asyncio.timeout(wait_seconds):
                await consumer.start()  # joins the group
                wanted = {
                    TopicPartition(topic, partition)
                    for topic in existing
                    for partition in consumer.partitions_for_topic(topic) or ()
                }
                while not wanted <= consumer.assignment():
                    await consumer.getmany(timeout_ms=200, max_records=1)
        except TimeoutError:
            raise GroupBusy(
                f"the consumer group {group} still has another member after {wait_seconds:.0f}s: "
                "stop every analytics instance and run the command again"
            ) from None
        earliest = await consumer.beginning_offsets(sorted(wanted))
        await consumer.commit(earliest)
        return len(earliest)
    finally:
        await consumer.stop()


async def _has_table(session: AsyncSession, name: str) -> bool:
    connection = await session.connection()
    return bool(await connection.run_sync(lambda sync: inspect(sync).has_table(name)))


async def empty(db: Database, group: str) -> int:
    """Empty the projected tables and the group's inbox and waiting room in one transaction (the
    audit trail and its claims are kept); return how many inbox claims were removed."""
    tables: list[Table] = [model.__table__ for model in PROJECTED]  # type: ignore[attr-defined]
    async with db.session() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(text(f"TRUNCATE {', '.join(table.name for table in tables)}"))
        else:
            for table in tables:
                await session.execute(delete(table))
        claims = await session.execute(
            delete(inbox).where(inbox.c.consumer == group, inbox.c.event_type != AuditRecorded.event_type)
        )
        if await _has_table(session, deferred.name):
            await session.execute(delete(deferred).where(deferred.c.consumer.startswith(f"{group}|")))
        return int(claims.rowcount or 0)


async def rebuild(
    settings: ServiceSettings, *, group: str | None = None, wait_seconds: float = 60.0
) -> Rebuilt:
    """Rewind the group's offsets, then empty the read models (see the module's docstring)."""
    group = group or group_of(settings)
    partitions = await rewind(client_options(settings), group, list(CONSUMED), wait_seconds=wait_seconds)
    db = Database(settings.database_url)
    try:
        claims = await empty(db, group)
        await audit.record_alone(
            db,
            service="analytics",
            operation="rebuild",
            subject=audit.operator(),
            roles=[audit.OPERATOR_ROLE],
        )
    finally:
        await db.dispose()
    return Rebuilt(group=group, partitions=partitions, claims=claims)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--group", help="the consumer group to rewind (default: setka.analytics)")
    parser.add_argument(
        "--wait",
        type=float,
        default=60.0,
        help="seconds to wait for the group's other members to be gone (default: 60)",
    )


def _run(args: argparse.Namespace, settings: ServiceSettings) -> int:
    try:
        done = asyncio.run(rebuild(settings, group=args.group, wait_seconds=args.wait))
    except GroupBusy as busy:
        print(f"nothing changed: {busy}")
        return 1
    print(
        f"{done.group}: {done.partitions} partitions of {', '.join(CONSUMED)} rewound to their earliest "
        f"offsets; read models emptied, {done.claims} inbox claims removed. "
        "Start analytics to replay every event."
    )
    return 0


COMMAND = Command(
    help="empty the read models and replay the registry's and the events service's events from the "
    "start (the audit trail is kept)",
    arguments=_arguments,
    run=_run,
)
