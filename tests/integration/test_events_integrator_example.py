"""The aiokafka example of docs/integrators.md works against a real broker and the events service,
as the demo's registered source (an unregistered one is refused)."""

from __future__ import annotations

import asyncio
import importlib.util
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from setka_contracts import CloudEvent, topics
from setka_contracts.registry import OrganizationRegistered

from services.events import app as events
from services.events import demo
from services.events.schema import schema
from services.events.settings import EventsSettings
from tests.helpers import eventually, produce

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "publish_assessment.py"


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("publish_assessment", EXAMPLE)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_documented_aiokafka_example_is_accepted(
    broker: Any, service_databases: dict[str, str]
) -> None:
    settings = EventsSettings(
        database_url=service_databases["events"],
        kafka_bootstrap_servers=broker.bootstrap,
        consumer_graceful_seconds=2,
        unknown_retry_seconds=0.2,
        unregistered_sources="refuse",
    )
    service = events.build(settings)
    school = OrganizationRegistered(
        organization_id=uuid.uuid4(),
        full_name="МКОУ СОШ (пример)",
        short_name="СОШ (пример)",
        kind="school",
        region_code="08",
        inn="0814000017",
        registered_at=datetime.now(UTC),
    )
    registered = CloudEvent(
        type=school.event_type, source="/setka/registry", data=school.model_dump(mode="json")
    )
    transport = httpx.ASGITransport(app=service.asgi(schema))
    async with service.running(), httpx.AsyncClient(transport=transport, base_url="http://events") as client:
        await asyncio.wait_for(service.connected.wait(), 60)
        async with service.db.session() as session, session.begin():
            await demo.register_demo_source(session)  # as the demo seed does under make run
        await load_example().publish(broker.bootstrap)  # before the school is known: it waits
        await produce(
            broker.bootstrap,
            topics.REGISTRY,
            [(school.key().encode(), registered.body(), registered.headers())],
        )

        async def stored() -> list[dict[str, Any]]:
            response = await client.post(
                "/graphql", json={"query": "{ assessmentResults { organizationId procedure meanScore } }"}
            )
            return response.json()["data"]["assessmentResults"]

        results = await eventually(stored, timeout=30)
    assert results == [{"organizationId": str(school.organization_id), "procedure": "vpr", "meanScore": 3.52}]
