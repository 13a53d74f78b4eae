"""The gateway's /metrics counts its GraphQL answers per operation: requests, time, 429s, 5xx.

The operation label stays bounded whatever clients send: a GraphQL name, ``anonymous`` or ``other``.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from gateway import observed
from gateway.app import create_app
from gateway.http import GraphQLHttp
from gateway.settings import GatewaySettings
from tests.unit.test_gateway_cost import _freeze

pytestmark = pytest.mark.unit

UNREACHABLE = {
    "registry_url": "http://127.0.0.1:9/graphql",
    "events_url": "http://127.0.0.1:9/graphql",
    "analytics_url": "http://127.0.0.1:9/graphql",
}


def answered(operation: str, status: int) -> float:
    return (
        REGISTRY.get_sample_value(
            "setka_gateway_requests_total", {"operation": operation, "status": str(status)}
        )
        or 0.0
    )


def timed(operation: str) -> float:
    return REGISTRY.get_sample_value("setka_gateway_request_seconds_count", {"operation": operation}) or 0.0


async def post(app: Any, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        return await client.post("/graphql", json=body)


def test_the_operation_label_is_a_name_anonymous_or_other() -> None:
    assert observed.operation_label("SchoolPage", None) == "SchoolPage"
    assert observed.operation_label(None, "query  Who { __typename }") == "Who"
    assert observed.operation_label(None, "{ __typename }") == "anonymous"
    assert observed.operation_label("", "{ __typename }") == "anonymous"
    assert observed.operation_label("drop table; --", None) == "other"
    assert observed.operation_label("x" * 65, None) == "other"
    assert observed.operation_label(["a list"], None) == "anonymous"


def test_names_past_the_limit_count_as_other(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(observed, "_seen", set())
    monkeypatch.setattr(observed, "MAX_OPERATIONS", 2)
    assert [observed.operation_label(name, None) for name in ("A", "B", "C", "A")] == ["A", "B", "other", "A"]


async def test_requests_and_their_time_are_counted_per_operation() -> None:
    app = create_app(GatewaySettings(**UNREACHABLE))
    before = (answered("WhoAmI", 200), timed("WhoAmI"), answered("anonymous", 200), answered("other", 400))
    assert (await post(app, {"query": "query WhoAmI { __typename }"})).status_code == 200
    assert (await post(app, {"query": "{ __typename }"})).status_code == 200
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        unreadable = await client.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
    assert unreadable.status_code == 400
    after = (answered("WhoAmI", 200), timed("WhoAmI"), answered("anonymous", 200), answered("other", 400))
    assert [b - a for a, b in zip(before, after, strict=True)] == [1, 1, 1, 1]


async def test_a_failure_of_the_gateway_counts_as_a_5xx_of_its_operation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*_: Any, **__: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(GraphQLHttp, "_charge", broken)
    app = create_app(GatewaySettings(**UNREACHABLE))
    before = answered("Broken", 500)
    response = await post(app, {"query": "query Broken { __typename }", "operationName": "Broken"})
    assert response.status_code == 500
    assert answered("Broken", 500) == before + 1


async def test_a_spent_cost_budget_counts_as_a_429_of_its_operation() -> None:
    app = create_app(GatewaySettings(**UNREACHABLE, anonymous_cost_budget_per_minute=20_000))
    _freeze(app)
    analysis = 'query Analysis { effectivenessAnalysis(scope: region, id: "39", year: 2025) { scopeTitle } }'
    before = answered("Analysis", 429)
    codes = [(await post(app, {"query": analysis})).status_code for _ in range(5)]
    assert codes.count(429) == 2
    assert answered("Analysis", 429) == before + 2
