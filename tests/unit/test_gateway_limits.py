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
