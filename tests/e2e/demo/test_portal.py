"""A portal's page through the gateway: network → members → organization → activities and figures.

The demo stack (real processes, SQLite, the local broker). The page touches all three subgraphs;
the number of requests the gateway sends to them does not grow with the lists."""

from __future__ import annotations

from typing import Any

import pytest

from deploy.local_stack import Stack
from tests.e2e.conftest import graphql
from tests.e2e.test_slice import gateway_calls
from tests.helpers import eventually

pytestmark = pytest.mark.e2e

PAGE = """query Portal($networks: Int!) {
  networks(first: $networks) { edges { node {
    id name
    members { role organization {
      id shortName kind
      regionSummary { regionCode organizations schools }
      activities(first: 10) { edges { node { id title startsAt host { id shortName } } } }
    } }
  } } }
}"""

SERVICES = ("registry", "events", "analytics")


async def page(stack: Stack, networks: int) -> tuple[dict[str, Any], dict[str, float]]:
    before = {name: await gateway_calls(stack, name) for name in SERVICES}
    body = await graphql(stack.gateway_url, PAGE, {"networks": networks})
    after = {name: await gateway_calls(stack, name) for name in SERVICES}
    assert "errors" not in body, body
    return body["data"], {name: after[name] - before[name] for name in SERVICES}


def organizations(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [m["organization"] for e in data["networks"]["edges"] for m in e["node"]["members"]]


async def test_a_portal_page_over_three_services_costs_the_same_requests_however_long_its_lists(
    demo_stack: Stack,
) -> None:
    async def everything_arrived() -> bool:
        data, _ = await page(demo_stack, 2)
        found = organizations(data)
        return (
            bool(found)
            and all(o["regionSummary"] for o in found)
            and any(o["activities"]["edges"] for o in found)
        )

    await eventually(everything_arrived, timeout=180)

    small, small_calls = await page(demo_stack, 1)
    large, large_calls = await page(demo_stack, 2)
    assert len(organizations(large)) > len(organizations(small))

    region_of = {}
    for organization in organizations(large):
        summary = organization["regionSummary"]
        region_of[organization["id"]] = summary["regionCode"]
        assert summary["organizations"] >= summary["schools"] > 0
        for edge in organization["activities"]["edges"]:
            assert edge["node"]["host"] == {"id": organization["id"], "shortName": organization["shortName"]}
    regions = await graphql(demo_stack.gateway_url, "{ regionSummaries { regionCode organizations } }")
    counted = {r["regionCode"]: r["organizations"] for r in regions["data"]["regionSummaries"]}
    for organization in organizations(large):
        assert organization["regionSummary"]["organizations"] == counted[region_of[organization["id"]]]

    # one request for the networks and one for the activities' hosts (registry), one batch of
    # figures (analytics), one batch of activities (events): whatever the number of rows
    assert small_calls == large_calls == {"registry": 2, "events": 1, "analytics": 1}
