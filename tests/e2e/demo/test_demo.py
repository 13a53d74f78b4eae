"""`make run` as a newcomer sees it: SQLite files, the demo data, everything through the gateway."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.local_stack import Stack
from tests.e2e.conftest import graphql
from tests.helpers import eventually

pytestmark = pytest.mark.e2e

NETWORKS = """{ networks(first: 20) { edges { node { name level regionCode
  governingBody { shortName kind }
  centres { organization { shortName kind } }
  members { role leftOn organization { shortName } } } } } }"""


async def organizations_per_region(stack: Stack) -> dict[str, int]:
    counts: dict[str, int] = {}
    after = None
    while True:
        body = await graphql(
            stack.gateway_url,
            "query($after: String) { organizations(first: 100, after: $after) {"
            " edges { node { regionCode } } pageInfo { hasNextPage endCursor } } }",
            {"after": after},
        )
        page = body["data"]["organizations"]
        for edge in page["edges"]:
            counts[edge["node"]["regionCode"]] = counts.get(edge["node"]["regionCode"], 0) + 1
        if not page["pageInfo"]["hasNextPage"]:
            return counts
        after = page["pageInfo"]["endCursor"]


async def test_a_newcomer_lists_the_demo_networks_with_members_and_centres(demo_stack: Stack) -> None:
    assert (demo_stack.var_dir / "registry.db").exists(), "make run keeps its data in SQLite files"
    body = await graphql(demo_stack.gateway_url, NETWORKS)
    assert "errors" not in body, body
    networks = [edge["node"] for edge in body["data"]["networks"]["edges"]]
    by_region: dict[str, list[dict[str, Any]]] = {}
    for network in networks:
        by_region.setdefault(network["regionCode"], []).append(network)
    baltiysk = [n for n in by_region["39"] if n["level"] == "municipal"]
    kalmykia = [n for n in by_region["08"] if n["level"] == "regional"]
    assert baltiysk and kalmykia
    for network in (baltiysk[0], kalmykia[0]):
        assert network["governingBody"]["kind"] == "education_authority"
        assert network["centres"], f"{network['name']} has a centre"
        assert all(c["organization"]["kind"] == "school" for c in network["centres"])
        assert len(network["members"]) >= 4
        assert {m["role"] for m in network["members"]} >= {"centre", "supported"}


async def test_analytics_counted_every_demo_organization_and_events_loaded_its_year(
    demo_stack: Stack,
) -> None:
    registry_counts = await organizations_per_region(demo_stack)
    assert set(registry_counts) >= {"39", "08"}

    async def analytics_caught_up() -> bool:
        body = await graphql(demo_stack.gateway_url, "{ regionSummaries { regionCode organizations } }")
        return {
            r["regionCode"]: r["organizations"] for r in body["data"]["regionSummaries"]
        } == registry_counts

    await eventually(analytics_caught_up, timeout=120)

    events_url = f"{demo_stack.service_url('events')}/graphql"

    async def demo_year_loaded() -> bool:
        body = await graphql(events_url, "{ activities(first: 5) { edges { node { id } } } }")
        return len(body["data"]["activities"]["edges"]) == 5

    await eventually(demo_year_loaded, timeout=120)
    status = await graphql(events_url, "{ eventsStatus { knownOrganizations } }")
    assert status["data"]["eventsStatus"]["knownOrganizations"] == sum(registry_counts.values())
