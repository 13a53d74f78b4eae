"""Subgraphs are Apollo Federation compatible: SDL with keys, entities resolved in one batch."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import event

from services.analytics import app as analytics
from services.analytics.settings import AnalyticsSettings
from services.registry import app as registry
from services.registry.organizations import RegisterOrganization, register_organization
from services.registry.settings import RegistrySettings

pytestmark = pytest.mark.integration


async def ask(app: Any, query: str, variables: dict[str, Any] | None = None) -> Any:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://subgraph"
    ) as client:
        response = await client.post("/graphql", json={"query": query, "variables": variables or {}})
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


async def test_registry_entities_resolve_in_one_query(service_databases: dict[str, str]) -> None:
    service = registry.build(RegistrySettings(database_url=service_databases["registry"]))
    ids = []
    async with service.db.session() as session, session.begin():
        for number in range(3):
            organization = await register_organization(
                session,
                RegisterOrganization(
                    full_name=f"Школа {number}", short_name=f"Ш{number}", kind="school", region_code="39"
                ),
            )
            ids.append(str(organization.id))
    app = service.asgi(registry.schema)

    sdl = (await ask(app, "{ _service { sdl } }"))["_service"]["sdl"]
    assert '@key(fields: "id")' in sdl

    statements: list[str] = []
    event.listen(service.db.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    representations = [{"__typename": "Organization", "id": i} for i in reversed(ids)]
    representations.append({"__typename": "Organization", "id": "00000000-0000-0000-0000-000000000000"})
    data = await ask(
        app,
        "query($r: [_Any!]!) { _entities(representations: $r) { ... on Organization { id shortName } } }",
        {"r": representations},
    )
    assert [e and e["id"] for e in data["_entities"]] == [*reversed(ids), None]
    assert len([s for s in statements if "FROM organization" in s]) == 1
    await service.db.dispose()


async def test_analytics_region_summary_is_an_entity(service_databases: dict[str, str]) -> None:
    service = analytics.build(AnalyticsSettings(database_url=service_databases["analytics"]))
    app = service.asgi(analytics.schema)
    sdl = (await ask(app, "{ _service { sdl } }"))["_service"]["sdl"]
    assert '@key(fields: "regionCode")' in sdl
    data = await ask(
        app,
        "query($r: [_Any!]!) { _entities(representations: $r) {"
        " ... on RegionSummary { regionCode organizations } } }",
        {"r": [{"__typename": "RegionSummary", "regionCode": "39"}]},
    )
    assert data["_entities"] == [{"regionCode": "39", "organizations": 0}]
    await service.db.dispose()
