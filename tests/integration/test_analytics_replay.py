"""Done when: resetting analytics and replaying the topics from their earliest offsets rebuilds
exactly the same read models.

A plain producer publishes a mixed stream of the registry's and the events service's events (each
with its outbox position as ``ce_sequence``, as the relays send them) to a real broker (three
partitions a topic, redeliveries, facts sent again under new ids, late facts, a message that
cannot be read); analytics consumes it in small batches. Then the operator's command
(a real process: ``python -m services.analytics rebuild``) refuses while analytics runs, and once
it is stopped rewinds the group and empties the read models; analytics started again replays the
topics. Every projected table must be as it was — and as a second instance builds it on a fresh
database from the earliest offsets, in a group of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from setka_contracts import CloudEvent, EventData, as_sequence, topics
from setka_contracts.audit import AuditRecorded
from setka_runtime.db import Database
from setka_runtime.tables import inbox
from sqlalchemy import func, select

from services.analytics import app as analytics
from services.analytics.projections import CONSUMED
from services.analytics.settings import AnalyticsSettings
from tests.conftest import ROOT
from tests.helpers import eventually, produce, read_topic
from tests.integration.test_analytics_projections import IGNORED, Ids, applied_count, dump, streams

pytestmark = pytest.mark.integration

SCHOOLS = 12
"""How many copies of the stream (each with its own ids) go out together."""

CONTRACTS: dict[str, type[EventData]] = {
    model.event_type: model for handlers in CONSUMED.values() for model in [*handlers, *IGNORED]
}


def keyed(event: CloudEvent) -> tuple[bytes, bytes, dict[str, str]]:
    """The message as its service's relay publishes it: keyed by the aggregate's id."""
    key = CONTRACTS[event.type].model_validate(event.data).key()
    return key.encode(), event.body(), event.headers()


def sequenced(events: list[CloudEvent]) -> list[CloudEvent]:
    """The events with their outbox position as ``ce_sequence``, as a relay sends them: in the
    order given, a redelivery (the same ``ce_id``) with the position it had."""
    positions: dict[str, str] = {}
    return [
        replace(event, sequence=positions.setdefault(event.id, as_sequence(len(positions) + 1)))
        for event in events
    ]


def settings_for(broker: Any, url: str) -> AnalyticsSettings:
    return AnalyticsSettings(
        database_url=url,
        kafka_bootstrap_servers=broker.bootstrap,
        consumer_batch_size=40,  # many batches, cut anywhere in an aggregate's events
        consumer_max_attempts=2,
        consumer_backoff_seconds=0.05,
        consumer_graceful_seconds=2,
        outbox_poll_seconds=0.2,
    )


async def claims(url: str) -> int:
    """Events of the registry and the events service taken (not the audit trail, where a rebuild
    records itself)."""
    db = Database(url)
    try:
        async with db.session() as session:
            taken = select(func.count()).where(inbox.c.event_type != AuditRecorded.event_type)
            return int(await session.scalar(taken) or 0)
    finally:
        await db.dispose()


@contextlib.asynccontextmanager
async def consuming(
    settings: AnalyticsSettings, expected: int, *, group: str | None = None
) -> AsyncIterator[None]:
    """Run analytics until it has applied ``expected`` events, and while the block runs."""
    service = analytics.build(settings, group=group)
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)

        async def applied() -> bool:
            return await claims(settings.database_url) == expected

        await eventually(applied, timeout=120)
        yield


async def rebuild_command(broker: Any, url: str, *arguments: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.analytics",
        "rebuild",
        *arguments,
        cwd=ROOT,
        env={
            **os.environ,
            "ANALYTICS_DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "LOG_LEVEL": "WARNING",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode in (0, 1), err.decode()
    return process.returncode, out.decode()


async def test_a_rebuild_replays_the_topics_into_exactly_the_same_read_models(
    broker: Any, service_databases: dict[str, str], databases: Any
) -> None:
    url = service_databases["analytics"]
    settings = settings_for(broker, url)
    worlds = [streams(Ids()) for _ in range(SCHOOLS)]
    expected = sum(applied_count(world) for world in worlds)
    messages = {
        topic: [
            keyed(event)
            for world in worlds
            for event in sequenced(world[topic] + world[topic][:3])  # the first three delivered twice
        ]
        for topic in CONSUMED
    }
    unreadable = (
        b"broken",
        b'{"plan_id": "',
        {**next(iter(messages[topics.EVENTS]))[2], "ce_id": "broken-1"},
    )
    messages[topics.EVENTS].insert(5, unreadable)

    service = analytics.build(settings)
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        for topic, batch in messages.items():
            await produce(broker.bootstrap, topic, batch)

        async def applied() -> bool:
            return await claims(url) == expected

        await eventually(applied, timeout=120)
    built = await dump(url)
    assert all(built.values()), {name: len(rows) for name, rows in built.items()}
    dead = await read_topic(broker.bootstrap, topics.dead_letter(topics.EVENTS), at_least=1, timeout=10)
    assert [record.key for record in dead] == [b"broken"]

    done, said = await rebuild_command(broker, url, "--wait", "90")
    assert done == 0, said
    assert "6 partitions of setka.registry, setka.events rewound" in said
    assert f"{expected} inbox claims removed" in said
    assert not any((await dump(url)).values()) and await claims(url) == 0

    async with consuming(settings, expected):
        pass
    assert await dump(url) == built

    fresh = databases.create("analytics_fresh", migrate="analytics")
    elsewhere = settings.model_copy(update={"database_url": fresh})
    async with consuming(elsewhere, expected, group="setka.analytics.fresh"):
        assert await dump(fresh) == built
        # last, as on the local broker a member that leaves while its group rebalances can leave
        # the group rebalancing for a long time: the command refuses while the instance runs
        refused, said = await rebuild_command(
            broker, fresh, "--group", "setka.analytics.fresh", "--wait", "3"
        )
        assert refused == 1, said
        assert said.startswith("nothing changed: the consumer group setka.analytics.fresh still has"), said
        assert await dump(fresh) == built
