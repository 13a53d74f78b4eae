"""Cross-service fields are declared by the subgraph that owns their data, as fields of the other
services' entities; each resolves for a whole batch of ``_entities`` with one SQL statement."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from setka_contracts import CloudEvent
from setka_contracts.registry import OrganizationRegistered
from setka_runtime.consumer import Item
from setka_runtime.db import Database
from sqlalchemy import event

from services.analytics import app as analytics
from services.analytics.models import RegionSummary
from services.analytics.projections import organizations_registered
from services.analytics.settings import AnalyticsSettings

pytestmark = pytest.mark.integration

UNKNOWN = "00000000-0000-0000-0000-000000000000"


async def ask(app: Any, query: str, variables: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://subgraph"
    ) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """The SQL statements the database is sent inside the block."""
    sent: list[str] = []

    def record(*arguments: Any) -> None:
        sent.append(arguments[2])

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


def entities(selection: str) -> str:
    return f"query($r: [_Any!]!) {{ _entities(representations: $r) {{ {selection} }} }}"


def registration(organization: uuid.UUID, region: str, kind: str = "school") -> Item:
    data = OrganizationRegistered(
        organization_id=organization,
        full_name="МБОУ СОШ (тест)",
        short_name="СОШ (тест)",
        kind=kind,
        region_code=region,
        registered_at=datetime.now(UTC),
    )
    cloud = CloudEvent(type=data.event_type, source="/test", data=data.model_dump(mode="json"))
    return Item(data=data, event=cloud, value=b"", headers={})


# --- analytics: Organization.regionSummary ------------------------------------------------------


@pytest.fixture
async def analytics_app(service_databases: dict[str, str]) -> AsyncIterator[tuple[Any, Database]]:
    service = analytics.build(AnalyticsSettings(database_url=service_databases["analytics"]))
    yield service.asgi(analytics.schema), service.db
    await service.db.dispose()


async def test_an_organizations_region_summary_comes_from_analytics_own_projection(
    analytics_app: tuple[Any, Database],
) -> None:
    app, db = analytics_app
    kaliningrad = [uuid.uuid4() for _ in range(3)]
    kalmykia = uuid.uuid4()
    async with db.session() as session, session.begin():
        await organizations_registered(
            session,
            [
                registration(kaliningrad[0], "39"),
                registration(kaliningrad[1], "39", kind="kindergarten"),
                registration(kalmykia, "08"),
            ],
        )
    async with db.session() as session, session.begin():
        # a later batch, with an organization already known (kept as first registered)
        await organizations_registered(
            session, [registration(kaliningrad[2], "39"), registration(kalmykia, "39")]
        )

    asked = [kalmykia, *kaliningrad, UNKNOWN, "not-a-uuid"]
    with statements(db) as sent:
        data = await ask(
            app,
            entities("... on Organization { id regionSummary { regionCode organizations schools } }"),
            {"r": [{"__typename": "Organization", "id": str(i)} for i in asked]},
        )
    found = data["_entities"]
    assert [e["id"] for e in found] == [str(i) for i in asked]
    assert found[0]["regionSummary"]["regionCode"] == "08"
    assert [e["regionSummary"]["regionCode"] for e in found[1:4]] == ["39", "39", "39"]
    assert found[1]["regionSummary"] == {"regionCode": "39", "organizations": 4, "schools": 3}
    assert found[4]["regionSummary"] is None and found[5]["regionSummary"] is None
    assert len(sent) == 1, sent


async def test_an_organization_of_a_region_without_figures_has_zeros(
    analytics_app: tuple[Any, Database],
) -> None:
    app, db = analytics_app
    organization = uuid.uuid4()
    async with db.session() as session, session.begin():
        await organizations_registered(session, [registration(organization, "77")])
        await session.execute(RegionSummary.__table__.delete())
    data = await ask(
        app,
        entities("... on Organization { regionSummary { regionCode organizations updatedAt } }"),
        {"r": [{"__typename": "Organization", "id": str(organization)}]},
    )
    assert data["_entities"] == [
        {"regionSummary": {"regionCode": "77", "organizations": 0, "updatedAt": None}}
    ]
