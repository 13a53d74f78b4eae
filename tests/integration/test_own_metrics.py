"""Done when: a dead letter, the consumer lag and an outbox backlog show on /metrics.

An events service reads a fact that breaks its contract: the dead letter is counted by topic and
reason kind, and the group's lag on the partition is reported. A registry whose relay cannot
publish shows its backlog, the age of its oldest event, and that its replica holds the lease.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families
from setka_contracts import topics
from setka_runtime.health import health_routes
from setka_runtime.outbox import OutboxRelay
from starlette.applications import Starlette

from services.events import app as events
from services.events.settings import EventsSettings
from services.registry import app as registry
from services.registry.organizations import RegisterOrganization, register_organization
from services.registry.settings import RegistrySettings
from tests.helpers import eventually, read_topic

pytestmark = pytest.mark.integration

ASSESSMENT = "setka.regional.assessment.published.v1"


async def samples(name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of ``name`` that /metrics shows now (as a loopback client, without a token)."""
    transport = httpx.ASGITransport(app=Starlette(routes=health_routes({})), client=("127.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name
    ]


async def test_a_dead_letter_and_the_consumer_lag_show_on_metrics(
    broker: Any, service_databases: dict[str, str]
) -> None:
    service = events.build(
        EventsSettings(
            database_url=service_databases["events"],
            kafka_bootstrap_servers=broker.bootstrap,
            consumer_max_attempts=2,
            consumer_backoff_seconds=0.05,
            consumer_graceful_seconds=2,
        )
    )
    broken = json.dumps({"external_id": "R-1", "grade": "пятый"}).encode()
    headers = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_type": ASSESSMENT,
        "ce_source": "/regional/rcoi",
        "content-type": "application/json",
        "traceparent": "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    }
    async with service.running():
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.REGIONAL_ASSESSMENTS,
                broken,
                key=b"metrics",
                headers=[(name, value.encode()) for name, value in headers.items()],
            )
        finally:
            await producer.stop()
        await read_topic(broker.bootstrap, topics.dead_letter(topics.REGIONAL_ASSESSMENTS), at_least=1)

        async def dead_letter_counted() -> list[dict[str, str]]:
            return [
                labels
                for labels, value in await samples("setka_dead_letters_total")
                if labels["topic"] == topics.REGIONAL_ASSESSMENTS and value >= 1
            ]

        counted = await eventually(dead_letter_counted, timeout=30)
        assert all(labels["reason"] and "пятый" not in labels["reason"] for labels in counted)

        async def lag_reported() -> list[tuple[dict[str, str], float]]:
            return [
                (labels, value)
                for labels, value in await samples("setka_consumer_lag")
                if labels["topic"] == topics.REGIONAL_ASSESSMENTS
            ]

        lag = await eventually(lag_reported, timeout=30)
    assert {labels["partition"] for labels, _ in lag} and all(value >= 0 for _, value in lag)


async def test_an_outbox_backlog_its_age_and_the_lease_holder_show_on_metrics(
    service_databases: dict[str, str],
) -> None:
    service = registry.build(RegistrySettings(database_url=service_databases["registry"]))

    async def refuse(topic: str, key: str, body: bytes, headers: dict[str, str]) -> None:
        raise ConnectionError("the broker is away")

    try:
        async with service.db.session() as session, session.begin():
            for number in (1, 2, 3):
                await register_organization(
                    session,
                    RegisterOrganization(
                        full_name=f"МБОУ СОШ № {number} (метрики)",
                        short_name=f"СОШ № {number}",
                        kind="school",
                        region_code="39",
                    ),
                )
        relay = OutboxRelay(service.db, refuse, poll_seconds=0.05)
        running = asyncio.create_task(relay.run())

        async def backlog_shown() -> bool:
            pending = [value for _, value in await samples("setka_outbox_pending")]
            oldest = [value for _, value in await samples("setka_outbox_oldest_seconds")]
            held = [
                value
                for labels, value in await samples("setka_outbox_lease_held")
                if labels["replica"] == relay.replica
            ]
            return pending == [3] and len(oldest) == 1 and oldest[0] >= 0 and held == [1]

        try:
            await eventually(backlog_shown, timeout=30)
        finally:
            relay.stop()
            await asyncio.wait_for(running, 30)
        held = [
            value
            for labels, value in await samples("setka_outbox_lease_held")
            if labels["replica"] == relay.replica
        ]
        assert held == [0]
    finally:
        await service.db.dispose()
