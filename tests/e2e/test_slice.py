"""The thin slice through real processes: gateway → registry → Kafka → analytics → gateway."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from deploy.local_stack import Stack
from tests.conftest import DatabaseFactory
from tests.e2e.conftest import REGISTER, graphql, module_stack, region_count, school
from tests.helpers import eventually

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module", name="stack")
def slice_stack(tmp_path_factory: pytest.TempPathFactory, databases: DatabaseFactory) -> Iterator[Stack]:
    """One stack for the module: after the first test the others only read health, readiness and
    metrics (and the first counts the gateway's calls of its own window)."""
    yield from module_stack(tmp_path_factory, databases)


async def gateway_calls(stack: Stack, service: str) -> float:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"{stack.service_url('gateway')}/metrics")).text
    match = re.search(rf'setka_gateway_subgraph_requests_total{{service="{service}"}} ([0-9.e+]+)', text)
    return float(match.group(1)) if match else 0.0


async def test_an_organization_registered_through_the_gateway_is_counted_by_analytics(
    stack: Stack, admin_token: str
) -> None:
    refused = await graphql(stack.gateway_url, REGISTER, {"input": school(1, "39")})
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "registerOrganization" in refused["errors"][0]["message"]

    bad = await graphql(
        stack.gateway_url, REGISTER, {"input": school(1, "39", inn="7707083894")}, token=admin_token
    )
    assert bad["data"]["registerOrganization"] == {
        "__typename": "ValidationError",
        "field": "inn",
        "message": "Контрольная цифра ИНН не сходится: проверьте цифры",
        "code": "INN_CHECKSUM",
    }

    created = []
    for number, region in [(1, "39"), (2, "39"), (3, "08"), (4, "39"), (5, "08")]:
        body = await graphql(
            stack.gateway_url, REGISTER, {"input": school(number, region)}, token=admin_token
        )
        assert body["data"]["registerOrganization"]["__typename"] == "Organization", body
        created.append(body["data"]["registerOrganization"]["id"])

    await eventually(lambda: _counts(stack, {"39": 3, "08": 2}))

    before = await gateway_calls(stack, "analytics")
    page = await graphql(
        stack.gateway_url,
        "{ organizations(first: 10) { edges { node { id regionCode"
        " regionSummary { organizations schools } } } pageInfo { hasNextPage } } }",
    )
    edges = page["data"]["organizations"]["edges"]
    assert sorted(edge["node"]["id"] for edge in edges) == sorted(created)
    for edge in edges:
        expected = 3 if edge["node"]["regionCode"] == "39" else 2
        assert edge["node"]["regionSummary"] == {"organizations": expected, "schools": expected}
    assert await gateway_calls(stack, "analytics") - before == 1, "one batched call for all five rows"

    summaries = await graphql(stack.gateway_url, "{ regionSummaries { regionCode organizations } }")
    assert summaries["data"]["regionSummaries"] == [
        {"regionCode": "08", "organizations": 2},
        {"regionCode": "39", "organizations": 3},
    ]


async def _counts(stack: Stack, expected: dict[str, int]) -> bool:
    return all([await region_count(stack, region) == count for region, count in expected.items()])


async def test_health_readiness_and_metrics_answer_on_every_process(stack: Stack) -> None:
    async with httpx.AsyncClient() as client:
        for name in ("registry", "events", "analytics", "gateway"):
            base = stack.service_url(name)
            assert (await client.get(f"{base}/healthz")).json() == {"status": "alive"}
            ready = (await client.get(f"{base}/readyz")).json()
            assert ready["status"] == "ready", ready
            assert "# TYPE" in (await client.get(f"{base}/metrics")).text
        bad_token = await client.post(
            stack.gateway_url, json={"query": "{ __typename }"}, headers={"authorization": "Bearer nonsense"}
        )
        assert bad_token.status_code == 401


async def test_every_process_exports_setka_s_own_lag_outbox_and_gateway_metrics(stack: Stack) -> None:
    async with httpx.AsyncClient() as client:
        answered = await client.post(stack.gateway_url, json={"query": "query SliceProbe { __typename }"})
        assert answered.status_code == 200

        async def metrics(name: str) -> str:
            return (await client.get(f"{stack.service_url(name)}/metrics")).text

        gateway = await metrics("gateway")
        assert 'setka_gateway_requests_total{operation="SliceProbe",status="200"}' in gateway
        assert 'setka_gateway_request_seconds_bucket{le="0.005",operation="SliceProbe"}' in gateway

        async def relay_holds_the_lease() -> bool:
            text = await metrics("registry")
            return bool(re.search(r"setka_outbox_lease_held\{replica=\"[^\"]+\"\} 1\.0", text)) and (
                "setka_outbox_oldest_seconds " in text
            )

        await eventually(relay_holds_the_lease, timeout=30)

        async def lag_reported() -> bool:
            return 'setka_consumer_lag{group="' in await metrics("analytics")

        await eventually(lag_reported, timeout=30)
