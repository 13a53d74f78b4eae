"""The transactional outbox against real PostgreSQL and a real broker that comes and goes."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import pytest
from setka_contracts import topics
from setka_contracts.registry import OrganizationRegistered
from setka_runtime import outbox as outbox_module
from setka_runtime.tables import outbox
from sqlalchemy import func, select

from services.registry import app as registry
from services.registry.models import Organization
from services.registry.organizations import RegisterOrganization, register_organization
from services.registry.settings import RegistrySettings
from tests.helpers import TcpProxy, eventually, headers_of, read_topic

pytestmark = pytest.mark.integration


def school(number: int, region: str = "39") -> RegisterOrganization:
    return RegisterOrganization(
        full_name=f"МБОУ СОШ № {number} (тест)",
        short_name=f"СОШ № {number}",
        kind="school",
        region_code=region,
    )


async def pending(service: Any) -> int:
    async with service.db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        )


async def test_a_rolled_back_change_leaves_neither_the_row_nor_its_event(
    service_databases: dict[str, str],
) -> None:
    service = registry.build(RegistrySettings(database_url=service_databases["registry"]))
    with pytest.raises(RuntimeError):
        async with service.db.session() as session, session.begin():
            await register_organization(session, school(1))
            raise RuntimeError("the request failed after the change")
    async with service.db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Organization)) == 0
        assert await session.scalar(select(func.count()).select_from(outbox)) == 0
    await service.db.dispose()


async def test_events_wait_out_a_broker_outage_and_go_out_in_order(
    stopped_broker: Any, service_databases: dict[str, str]
) -> None:
    settings = RegistrySettings(
        database_url=service_databases["registry"],
        kafka_bootstrap_servers=stopped_broker.bootstrap,
        outbox_poll_seconds=0.1,
    )
    service = registry.build(settings)
    ids: list[uuid.UUID] = []
    async with service.running():
        for number in range(10):  # the broker is not there: the registry still takes changes
            async with service.db.session() as session, session.begin():
                ids.append((await register_organization(session, school(number))).id)
        await asyncio.sleep(1.0)
        assert await pending(service) == 10

        stopped_broker.start()
        await eventually(lambda: _is_zero(pending(service)))
        first = await read_topic(stopped_broker.bootstrap, topics.REGISTRY, at_least=10)

    assert sorted(r.key.decode() for r in first) == sorted(str(i) for i in ids)
    headers = headers_of(first[0])
    assert headers["ce_type"] == OrganizationRegistered.event_type
    assert headers["ce_source"] == "/setka/registry"
    assert headers["ce_specversion"] == "1.0" and headers["content-type"] == "application/json"


async def test_events_recorded_during_a_network_outage_go_out_when_it_ends(
    proxied_broker: Any, service_databases: dict[str, str]
) -> None:
    proxy = TcpProxy(proxied_broker.port, proxied_broker.advertised_port)
    await proxy.start()
    settings = RegistrySettings(
        database_url=service_databases["registry"],
        kafka_bootstrap_servers=proxied_broker.bootstrap,
        outbox_poll_seconds=0.1,
    )
    service = registry.build(settings)
    ids: list[uuid.UUID] = []
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        async with service.db.session() as session, session.begin():
            ids.append((await register_organization(session, school(0))).id)
        await eventually(lambda: _is_zero(pending(service)))
        await proxy.cut()
        for number in range(1, 6):
            async with service.db.session() as session, session.begin():
                ids.append((await register_organization(session, school(number))).id)
        await asyncio.sleep(2.0)
        assert await pending(service) == 5
        await proxy.start()
        await eventually(lambda: _is_zero(pending(service)), timeout=90)
        records = await read_topic(proxied_broker.bootstrap, topics.REGISTRY, at_least=6)
        await proxy.cut()
    # a publish whose acknowledgement was lost in the outage may go out twice, with one ce_id
    assert {r.key.decode() for r in records} == {str(i) for i in ids}
    assert len({headers_of(r)["ce_id"] for r in records}) == 6


async def test_one_aggregates_events_keep_their_order(broker: Any, service_databases: dict[str, str]) -> None:
    """Events with one key land in one partition in the order they were recorded."""
    settings = RegistrySettings(
        database_url=service_databases["registry"],
        kafka_bootstrap_servers=broker.bootstrap,
        outbox_poll_seconds=0.1,
    )
    service = registry.build(settings)
    key = uuid.uuid4()
    names = [f"версия {n}" for n in range(30)]
    async with service.running():
        for name in names:
            async with service.db.session() as session, session.begin():
                await outbox_module.record(
                    session,
                    OrganizationRegistered(
                        organization_id=key,
                        full_name=name,
                        short_name=name,
                        kind="school",
                        region_code="39",
                        registered_at="2026-01-01T00:00:00Z",
                    ),
                    source=settings.source,
                )
        await eventually(lambda: _is_zero(pending(service)))
        records = await read_topic(broker.bootstrap, topics.REGISTRY, at_least=30)
    assert len({r.partition for r in records}) == 1

    assert [json.loads(r.value)["full_name"] for r in records] == names


async def _is_zero(value: Any) -> bool:
    return (await value) == 0


async def test_two_replicas_of_a_service_publish_each_event_once(
    broker: Any, service_databases: dict[str, str]
) -> None:
    settings = RegistrySettings(
        database_url=service_databases["registry"],
        kafka_bootstrap_servers=broker.bootstrap,
        outbox_poll_seconds=0.1,
    )
    first, second = registry.build(settings), registry.build(settings)
    async with first.running(), second.running():
        await asyncio.wait_for(asyncio.gather(first.connected.wait(), second.connected.wait()), 60)
        for number in range(20):
            replica = first if number % 2 else second
            async with replica.db.session() as session, session.begin():
                await register_organization(session, school(number))
        await eventually(lambda: _is_zero(pending(first)))
        records = await read_topic(broker.bootstrap, topics.REGISTRY, at_least=20)
    assert len(records) == 20
    assert len({headers_of(r)["ce_id"] for r in records}) == 20
