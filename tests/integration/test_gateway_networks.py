"""Through the gateway: networks with their members and centres, in two registry calls whatever the size."""

from __future__ import annotations

from datetime import date
from typing import Any

import httpx
import pytest
from setka_runtime.db import Database

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.analytics import app as analytics_app
from services.analytics.schema import schema as analytics_schema
from services.analytics.settings import AnalyticsSettings
from services.registry import app as registry_app
from services.registry import networks, reference, statuses
from services.registry import organizations as orgs
from services.registry.schema import schema as registry_schema
from services.registry.settings import RegistrySettings
from tests.helpers import served

pytestmark = pytest.mark.integration

D = date.fromisoformat


async def seed(db: Database) -> None:
    async with db.session() as session, session.begin():
        await reference.load_reference(session)

        async def org(name: str, kind: str = "school") -> Any:
            command = orgs.RegisterOrganization(full_name=name, short_name=name, kind=kind, region_code="39")
            return await orgs.register_organization(session, command)

        authority = await org("УО Балтийск", "education_authority")
        for n in range(3):
            network = await networks.create_network(
                session,
                networks.CreateNetwork(
                    name=f"Сеть {n}",
                    level="regional",
                    region_code="39",
                    governing_body_id=authority.id,
                    started_on=D("2021-01-01"),
                ),
            )
            centre = await org(f"Центр {n}")
            await statuses.enter_status(
                session, statuses.EnterStatus(centre.id, "stable_results", D("2020-01-01"))
            )
            await networks.join_network(
                session, networks.JoinNetwork(network.id, centre.id, "centre", D("2021-01-01"))
            )
            for k in range(4):
                school = await org(f"Школа {n}-{k}")
                await networks.join_network(
                    session, networks.JoinNetwork(network.id, school.id, "partner", D("2021-02-01"))
                )


async def test_networks_with_members_and_centres_through_the_gateway(
    service_databases: dict[str, str],
) -> None:
    registry = registry_app.build(RegistrySettings(database_url=service_databases["registry"]))
    analytics = analytics_app.build(AnalyticsSettings(database_url=service_databases["analytics"]))
    await seed(registry.db)
    async with (
        served(registry.asgi(registry_schema), lifespan="off") as registry_url,
        served(analytics.asgi(analytics_schema)) as analytics_url,
    ):
        gateway = create_app(
            GatewaySettings(
                registry_url=f"{registry_url}/graphql",
                analytics_url=f"{analytics_url}/graphql",
                events_url="http://127.0.0.1:9/graphql",
            )
        )
        async with served(gateway) as gateway_url, httpx.AsyncClient() as client:
            response = await client.post(
                f"{gateway_url}/graphql",
                json={
                    "query": '{ networks(regionCode: "39", first: 10) { edges { node { name level'
                    " governingBody { shortName }"
                    " centres { joinedOn organization { shortName } }"
                    " members { role joinedOn leftOn"
                    " organization { shortName regionSummary { schools } } } } }"
                    " pageInfo { hasNextPage } } }"
                },
            )
            calls = gateway.state.subgraphs.calls
    await registry.db.dispose()
    await analytics.db.dispose()
    body = response.json()
    assert "errors" not in body, body
    nodes = [edge["node"] for edge in body["data"]["networks"]["edges"]]
    assert [n["name"] for n in nodes] == ["Сеть 0", "Сеть 1", "Сеть 2"]
    for n, node in enumerate(nodes):
        assert node["governingBody"] == {"shortName": "УО Балтийск"}
        assert node["centres"] == [{"joinedOn": "2021-01-01", "organization": {"shortName": f"Центр {n}"}}]
        names = [m["organization"]["shortName"] for m in node["members"]]
        assert names[0] == f"Центр {n}"  # in joining order
        assert sorted(names[1:]) == [f"Школа {n}-{k}" for k in range(4)]
        # analytics has seen no event in this test: it knows no organization yet
        assert all(m["organization"]["regionSummary"] is None for m in node["members"])
    assert calls == {"registry": 1, "analytics": 1}, "one call per subgraph, whatever the number of rows"
