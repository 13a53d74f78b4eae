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


def fragment_bomb(levels: int, *, width: int = 2, on: str = "Query", leaf: str = "__typename") -> str:
    """Each fragment spreads the next ``width`` times: ``width ** levels`` fields once written out."""
    spreads = lambda i: " ".join([f"...F{i + 1}"] * width)  # noqa: E731
    fragments = " ".join(f"fragment F{i} on {on} {{ {spreads(i)} }}" for i in range(levels))
    return f"fragment F{levels} on {on} {{ {leaf} }} {fragments}"


BOMBS = {
    "doubling, 16 levels": "{ ...F0 } " + fragment_bomb(16),
    "doubling, 60 levels": "{ ...F0 } " + fragment_bomb(60),
    "wide, 60 spreads a level": "{ ...F0 } " + fragment_bomb(4, width=60),
    "inside a field": "{ organizations(first: 1) { edges { node { ...F0 } } } } "
    + fragment_bomb(30, on="Organization", leaf="id"),
    "through inline fragments": "{ ... on Query { ...F0 } } " + fragment_bomb(25),
    "two operations, one a bomb": "query Fine { __typename } query Bomb { ...F0 } " + fragment_bomb(30),
}


@pytest.mark.parametrize("name", BOMBS)
async def test_a_document_that_multiplies_into_too_many_fields_is_refused_before_it_is_written_out(
    name: str,
) -> None:
    app = create_app(GatewaySettings(registry_url="http://127.0.0.1:9/graphql"))
    body = {"query": BOMBS[name]}
    if "operations" in name:
        body["operationName"] = "Bomb"
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        response = await client.post("/graphql", json=body)
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == "MAX_FIELDS_LIMIT", errors
    assert "once its fragments are written out" in errors[0]["message"]
    assert sum(app.state.subgraphs.calls.values()) == 0


ORGANIZATIONS = "organizations { edges { node { id } } } "
SLOW_TO_VALIDATE = {
    # graphql's check that fields of one name can merge compares every pair of them: ~1 s each
    "one field 199 times": ("{ " + ORGANIZATIONS * 199 + "}", "FIELD_REPEATED_TOO_OFTEN"),
    "199 copies in a fragment": (
        "{ ...A } fragment A on Query { " + ORGANIZATIONS * 199 + "}",
        "FIELD_REPEATED_TOO_OFTEN",
    ),
    "150 fragments on a type asking the same": (
        "{ organizations(first: 1) { edges { node { "
        + " ".join(f"...O{i}" for i in range(150))
        + " } } } } "
        + " ".join(f"fragment O{i} on Organization {{ id shortName }}" for i in range(150)),
        "FIELD_REPEATED_TOO_OFTEN",
    ),
    "320 inline fragments": (
        "{ organizations { edges { node { " + "... on Organization { id } " * 320 + "} } } }",
        "FIELD_REPEATED_TOO_OFTEN",
    ),
    "one alias 300 times": (
        "{ " + "x: regionSummaries { regionCode } " * 300 + "}",
        "FIELD_REPEATED_TOO_OFTEN",
    ),
    "600 distinct aliases": (
        "{ " + " ".join(f"a{i}: __typename" for i in range(600)) + " }",
        "MAX_ALIASES_LIMIT",
    ),
}


@pytest.mark.parametrize("name", SLOW_TO_VALIDATE)
async def test_a_document_that_is_slow_to_validate_is_refused_before_it_is_validated(name: str) -> None:
    from gateway.federation import engine

    query, code = SLOW_TO_VALIDATE[name]
    validated: list[object] = []
    real = engine.validate
    app = create_app(GatewaySettings(registry_url="http://127.0.0.1:9/graphql"))
    try:
        engine.validate = lambda *a, **k: validated.append(a) or real(*a, **k)  # type: ignore[assignment]
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway"
        ) as client:
            response = await client.post("/graphql", json={"query": query})
    finally:
        engine.validate = real  # type: ignore[assignment]
    assert [e["extensions"]["code"] for e in response.json()["errors"]] == [code]
    assert not validated and sum(app.state.subgraphs.calls.values()) == 0


async def test_a_field_asked_a_few_times_is_still_answered() -> None:
    """Repeating a field is legal GraphQL; a few repeats (merged selections) pass."""
    _, body, _ = await ask("{ " + "__typename " * 20 + "a: __typename a: __typename }")
    assert body == {"data": {"__typename": "Query", "a": "Query"}}


async def test_a_normal_query_is_answered_while_the_gateway_works_on_expensive_documents() -> None:
    """A document under every limit may still take the engine a while to prepare; that happens
    off the event loop, so a request whose document is known is answered meanwhile."""
    import asyncio
    import time

    app = create_app(
        GatewaySettings(registry_url="http://127.0.0.1:9/graphql", max_fields=50_000, max_repeats=50_000)
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        assert (await client.post("/graphql", json={"query": "{ __typename }"})).status_code == 200
        heavy = [
            # distinct documents (not cached), each under the limits but slow to validate and plan
            "{ ...F0 } " + fragment_bomb(14, leaf=f"t{n}: __typename")
            for n in range(3)
        ]
        done: list[float] = []

        async def hostile(query: str) -> None:
            await client.post("/graphql", json={"query": query})
            done.append(time.monotonic())

        work = asyncio.gather(*(hostile(q) for q in heavy))
        await asyncio.sleep(0.01)
        normal = await client.post("/graphql", json={"query": "{ __typename }"})
        answered = time.monotonic()
        await work
    assert normal.json() == {"data": {"__typename": "Query"}}
    # answered while the expensive ones were still being worked on, not after all of them
    assert answered < max(done), [round(t - answered, 3) for t in done]


@pytest.mark.parametrize(
    "path",
    [
        "/reports/%2e%2e/graphql?query=%7B__schema%7BqueryType%7Bname%7D%7D%7D",
        "/reports/%2e%2e/metrics",
        "/reports/analysis.xlsx/%2e%2e/%2e%2e/graphql",
        "/reports/anything-else.csv",
        "/facts/%2e%2e/graphql",
    ],
)
async def test_only_the_routes_that_exist_are_passed_on_to_a_service(path: str) -> None:
    """A path that climbs out of /reports or /facts reaches no service's own endpoints."""
    app = create_app(
        GatewaySettings(analytics_url="http://127.0.0.1:9/graphql", events_url="http://127.0.0.1:9/graphql")
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        refused = await client.get(path)
        passed = await client.get("/reports/analysis.xlsx?scope=region&id=39")
    assert refused.status_code in (404, 405), refused.text
    assert passed.status_code == 502  # passed on: the analytics service (not running here) is unavailable


def test_padding_a_document_does_not_make_the_gateway_keep_its_bytes() -> None:
    """Whitespace and comments do not count as tokens; the caches must not keep them either."""
    import gc
    import tracemalloc

    from gateway.federation.engine import Engine, Limits, RequestError
    from gateway.federation.supergraph import Supergraph
    from gateway.federation.transport import Subgraphs

    settings = GatewaySettings()
    urls = {name: "http://127.0.0.1:9/graphql" for name in ("registry", "events", "analytics")}
    supergraph = Supergraph.load(settings.supergraph, urls)
    engine = Engine(supergraph, Subgraphs(supergraph.graphs, timeout=1), Limits())
    padding = "#" + "x" * 90_000 + "\n"  # under the size limit: cached
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(10):
            text = f"{padding}{{ n{n}: __typename }}"
            engine.prepare(text, None)
            del text
        gc.collect()
        kept = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert kept < 300_000, f"{kept} bytes kept for 10 cached documents of 90 kB of comments"
    with pytest.raises(RequestError) as refused:
        engine.prepare("#" + "x" * 200_000 + "\n{ __typename }", None)
    assert refused.value.errors[0]["extensions"]["code"] == "DOCUMENT_TOO_LARGE"
