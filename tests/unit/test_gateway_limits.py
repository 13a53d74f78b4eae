"""The gateway refuses abusive queries before calling any service, and hides internals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit


async def ask(query: str, **settings: Any) -> tuple[int, Any, Any]:
    app = create_app(GatewaySettings(registry_url="http://127.0.0.1:9/graphql", **settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        response = await client.post("/graphql", json={"query": query})
    return response.status_code, response.json(), app.state.subgraphs.calls


async def test_too_deep_a_query_is_refused_without_calling_a_service() -> None:
    deep = "{ organizations { edges { node { regionSummary { regionCode } } } } }"
    _, body, calls = await ask(deep, max_depth=3)
    assert "exceeds maximum operation depth" in body["errors"][0]["message"]
    assert sum(calls.values()) == 0


async def test_too_many_aliases_are_refused() -> None:
    aliased = "{ " + " ".join(f"a{i}: regionSummaries {{ regionCode }}" for i in range(5)) + " }"
    _, body, calls = await ask(aliased, max_aliases=3)
    assert "aliases" in body["errors"][0]["message"].lower()
    assert sum(calls.values()) == 0


async def test_an_unreachable_service_is_reported_without_internals() -> None:
    _, body, calls = await ask("{ organizations { edges { node { id } } } }")
    assert body["errors"][0]["message"] == "the registry service is unavailable"
    assert "Traceback" not in str(body) and "127.0.0.1" not in str(body)
    assert calls["registry"] == 1


@pytest.mark.parametrize(
    ("query", "variables", "settings", "code"),
    [
        ("{ organizations { ", None, {}, "GRAPHQL_PARSE_FAILED"),
        ("{ organizations { nameOfNothing } }", None, {}, "GRAPHQL_VALIDATION_FAILED"),
        (
            "query A { regionSummaries { regionCode } } query B { __typename }",
            None,
            {},
            "OPERATION_RESOLUTION_FAILURE",
        ),
        (
            "{ organizations { edges { node { regionSummary { regionCode } } } } }",
            None,
            {"max_depth": 3},
            "MAX_DEPTH_LIMIT",
        ),
        (
            "{ " + " ".join(f"a{i}: regionSummaries {{ regionCode }}" for i in range(5)) + " }",
            None,
            {"max_aliases": 3},
            "MAX_ALIASES_LIMIT",
        ),
        (
            "{ organizations(first: 1000000) { edges { node { id } } } }",
            None,
            {},
            "COST_ESTIMATED_TOO_EXPENSIVE",
        ),
    ],
    ids=["parse", "validation", "which_operation", "depth", "aliases", "cost"],
)
async def test_a_refused_request_says_why_in_a_code_as_standard_routers_do(
    query: str, variables: dict[str, Any] | None, settings: dict[str, Any], code: str
) -> None:
    app = create_app(GatewaySettings(registry_url="http://127.0.0.1:9/graphql", **settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        response = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"accept": "application/graphql-response+json"},
        )
    assert response.status_code == 400
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == [code]
    assert sum(app.state.subgraphs.calls.values()) == 0
