"""Replay: the outbox history re-published into a new, empty cluster.

Done when: re-publishing delivers every outbox event once per row, as the relay sent it (topic,
key, body, headers), in each key's order, into topics created for it. (That a rebuild of
analytics gives back exactly the read models built the first time is
``test_analytics_replay.py``; ``setka replay rebuild analytics`` is ``test_operator_cli.py``.)
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from setka_contracts import topics
from setka_runtime import migrations
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import func, select

from operations.replay import republish
from services.registry import app as registry
from services.registry.organizations import (
    RegisterOrganization,
    UpdateOrganization,
    register_organization,
    update_organization,
)
from services.registry.settings import RegistrySettings
from tests.conftest import MIGRATIONS
from tests.helpers import eventually, headers_of, read_topic

pytestmark = pytest.mark.integration


def school(number: int) -> RegisterOrganization:
    return RegisterOrganization(
        full_name=f"МБОУ СОШ № {number} (повтор)",
        short_name=f"СОШ № {number}",
        kind="school",
        region_code="39",
    )


async def pending(db: Database) -> int:
    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
            or 0
        )


async def outbox_rows(url: str) -> list[Any]:
    db = Database(url)
    try:
        async with db.session() as session:
            return list((await session.execute(select(outbox).order_by(outbox.c.id))).all())
    finally:
        await db.dispose()


async def topic_names(bootstrap: str) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


def message(record: Any) -> tuple[bytes, bytes, tuple[tuple[str, str], ...]]:
    """Key, body and the event's headers (not FastStream's per-send ``correlation_id``)."""
    headers = headers_of(record)
    headers.pop("correlation_id", None)
    return record.key, record.value, tuple(sorted(headers.items()))


async def _none(count: Any) -> bool:
    return await count == 0


async def test_republishing_puts_the_whole_outbox_history_into_an_empty_cluster(
    broker: Any, stopped_broker: Any, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    migrations.upgrade(MIGRATIONS["registry"], url, "registry")
    service = registry.build(
        RegistrySettings(database_url=url, kafka_bootstrap_servers=broker.bootstrap, outbox_poll_seconds=0.1)
    )
    ids: list[uuid.UUID] = []
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        for number in range(4):
            async with service.db.session() as session, session.begin():
                ids.append((await register_organization(session, school(number))).id)
        for round_ in range(2):  # three events of each key, in order
            for number, organization_id in enumerate(ids):
                async with service.db.session() as session, session.begin():
                    await update_organization(
                        session,
                        UpdateOrganization(organization_id, short_name=f"СОШ № {number}, ред. {round_}"),
                    )
        await eventually(lambda: _none(pending(service.db)))
    relayed = await read_topic(broker.bootstrap, topics.REGISTRY, at_least=12)
    assert len(relayed) == 12

    # two more recorded while no relay runs: they have never been published anywhere
    db = Database(url)
    try:
        for number in range(4, 6):
            async with db.session() as session, session.begin():
                await register_organization(session, school(number))
        assert await pending(db) == 2
    finally:
        await db.dispose()
    rows = await outbox_rows(url)
    assert len(rows) == 14

    stopped_broker.start()  # a new cluster: no topics, no messages
    sent = await republish(url, stopped_broker.bootstrap, progress=False)
    assert sent == 14

    received = await read_topic(stopped_broker.bootstrap, topics.REGISTRY, at_least=14)
    by_id = {row.event_id: row for row in rows}
    assert Counter(headers_of(record)["ce_id"] for record in received) == Counter(by_id.keys())
    for record in received:
        row = by_id[headers_of(record)["ce_id"]]
        assert record.key == row.key.encode() and record.topic == row.topic
    assert {message(record) for record in relayed} <= {message(record) for record in received}
    for key in {row.key for row in rows}:  # each key's events in the order they were recorded
        in_order = [row.event_id for row in rows if row.key == key]
        assert [headers_of(r)["ce_id"] for r in received if r.key == key.encode()] == in_order
    assert {topics.REGISTRY, topics.dead_letter(topics.REGISTRY)} <= await topic_names(
        stopped_broker.bootstrap
    )
    # nothing was marked: the two unpublished rows are still the relay's to publish
    assert [row.published_at for row in await outbox_rows(url)] == [row.published_at for row in rows]
