"""The gateway prices an operation by the costs the subgraphs declare (``@cost``, ``@listSize``)."""

from __future__ import annotations

import pytest
from graphql import parse

from gateway.federation.cost import CostModel
from gateway.federation.engine import Engine, Limits, RequestError
from gateway.federation.supergraph import Supergraph
from gateway.federation.transport import Subgraphs
from gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

URLS = {name: "http://127.0.0.1:9/graphql" for name in ("registry", "events", "analytics")}


@pytest.fixture(scope="module")
def supergraph() -> Supergraph:
    return Supergraph.load(GatewaySettings().supergraph, URLS)


@pytest.fixture(scope="module")
def engine(supergraph: Supergraph) -> Engine:
    return Engine(supergraph, Subgraphs(supergraph.graphs, timeout=1), Limits())


def cost(supergraph: Supergraph, query: str, variables: dict[str, int] | None = None) -> int:
    model = CostModel(supergraph.schema, supergraph.costs)
    operation = parse(query).definitions[0]
    return model.cost(operation.selection_set, supergraph.schema.query_type, variables)  # type: ignore[attr-defined]


def test_the_subgraphs_declare_their_expensive_fields(supergraph: Supergraph) -> None:
    declared = supergraph.costs
    assert declared[("Query", "effectivenessAnalysis")].weight == 5000
    assert declared[("Organization", "indicators")].weight == 300
    assert declared[("Query", "organizations")].slicing_arguments == ("first",)
    assert declared[("Query", "organizations")].sized_fields == ("edges",)
    assert declared[("Query", "trainings")].assumed_size == 500


def test_an_analysis_costs_its_weight_and_a_page_its_size(supergraph: Supergraph) -> None:
    analysis = '{ effectivenessAnalysis(scope: region, id: "39", year: 2025) { scopeTitle } }'
    assert cost(supergraph, analysis) == 5001
    # a connection's edges come back `first` times; its pageInfo once
    page = "{ organizations(first: 50) { pageInfo { hasNextPage } edges { node { id shortName } } } }"
    assert cost(supergraph, page) == 1 + 2 + 50 * (1 + 1 + 2)
    # without `first`, the argument's default (20) counts, not one
    assert cost(supergraph, "{ organizations { edges { node { id } } } }") == 1 + 20 * 3
    # each organization's indicators cost their weight, and their values count as any list's (10)
    indicators = "{ organizations(first: 10) { edges { node { indicators(year: 2025) { value } } } } }"
    assert cost(supergraph, indicators) == 1 + 10 * (1 + 1 + 300 + 10)
    # an unpaged list of facts is taken to hold its assumed size
    assert cost(supergraph, "{ trainings { id course } }") == 1 + 500 * 2
    # a size given by a variable counts once it is known
    by_variable = "query($n: Int!) { organizations(first: $n) { edges { node { id } } } }"
    assert cost(supergraph, by_variable, {"n": 100}) == 1 + 100 * 3


def test_a_few_analyses_in_one_request_are_too_expensive(engine: Engine) -> None:
    """Each field used to count as one: twenty analyses of the largest region fit in a request."""
    four = " ".join(
        f'a{i}: effectivenessAnalysis(scope: region, id: "{code}", year: 2025) {{ scopeTitle }}'
        for i, code in enumerate(("39", "47", "77", "78"))
    )
    with pytest.raises(RequestError) as refused:
        engine.prepare("{ " + four + " }", None)
    assert refused.value.errors[0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"
    three = four.rsplit(" a3:", 1)[0]
    assert engine.prepare("{ " + three + " }", None).plan is not None


def test_a_page_of_organizations_with_their_indicators_is_priced_by_its_size(engine: Engine) -> None:
    query = (
        "query($n: Int!) { organizations(first: $n) { edges { node { indicators(year: 2025) { value } } } } }"
    )
    prepared = engine.prepare(query, None)
    engine.variables(prepared, {"n": 20})
    with pytest.raises(RequestError) as refused:
        engine.variables(prepared, {"n": 100})
    assert refused.value.errors[0]["extensions"]["code"] == "COST_ESTIMATED_TOO_EXPENSIVE"


async def test_each_caller_has_a_cost_budget_a_minute_lower_when_anonymous() -> None:
    """An anonymous client that asks for an analysis again and again is stopped once its minute's
    budget is spent (429, Retry-After, COST_BUDGET_EXCEEDED) before the subgraph is called; a
    signed-in caller has its own, larger budget, and cheap requests go on meanwhile."""
    import httpx

    from gateway.app import create_app
    from gateway.auth import issue_token

    settings = GatewaySettings(
        analytics_url="http://127.0.0.1:9/graphql",
        anonymous_cost_budget_per_minute=20_000,
        cost_budget_per_minute=40_000,
    )
    app = create_app(settings)
    _freeze(app)
    analysis = '{ effectivenessAnalysis(scope: region, id: "39", year: 2025) { scopeTitle } }'
    token = issue_token(settings, subject="methodologist", roles=["expert"], region_code="39")
    signed_in = {"authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:

        async def ask(query: str, headers: dict[str, str] | None = None) -> httpx.Response:
            return await client.post("/graphql", json={"query": query}, headers=headers or {})

        anonymous = [await ask(analysis) for _ in range(5)]
        mine = [await ask(analysis, signed_in) for _ in range(9)]
        cheap = await ask("{ __typename }")
    # 20,000 hold three analyses (5,001 each) and nothing else of their size
    assert [r.status_code for r in anonymous[:3]] == [
        200,
        200,
        200,
    ]  # analytics is down: an error, not a refusal
    refused = anonymous[3]
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert refused.json()["errors"][0]["extensions"]["code"] == "COST_BUDGET_EXCEEDED"
    assert anonymous[4].status_code == 429
    assert [r.status_code for r in mine].count(429) == 2  # seven fit in 40,000
    assert cheap.status_code == 200 and cheap.json() == {"data": {"__typename": "Query"}}
    assert app.state.subgraphs.calls["analytics"] == 3 + 7


def test_a_budget_smaller_than_one_allowed_request_is_refused() -> None:
    with pytest.raises(ValueError, match="ANONYMOUS_COST_BUDGET_PER_MINUTE"):
        GatewaySettings(anonymous_cost_budget_per_minute=1000)


async def test_new_documents_cost_their_reading_and_refused_ones_more() -> None:
    """A client that sends document after new document, each refused, spends its budget on them
    (100 each, 1,000 more when refused, charged before reading) and is then answered 429 before
    its next one is read; a document the gateway knows costs nothing to read again."""
    import httpx

    from gateway.app import create_app

    app = create_app(GatewaySettings(anonymous_cost_budget_per_minute=20_000))
    _freeze(app)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        codes = []
        for n in range(20):
            response = await client.post("/graphql", json={"query": f"{{ nothing{n} }}"})
            codes.append(response.json()["errors"][0]["extensions"]["code"])
        known = [await client.post("/graphql", json={"query": "{ nothing0 }"}) for _ in range(3)]
    # 20,000 hold 18 refused new documents (1,100 each); the 19th is not read
    assert codes[:18] == ["GRAPHQL_VALIDATION_FAILED"] * 18
    assert codes[18:] == ["COST_BUDGET_EXCEEDED"] * 2
    assert all(r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED" for r in known)


def _freeze(app: object) -> None:
    """Stop the budgets' refill for a test: what a request costs is then all that counts, however
    slowly a busy machine runs it."""
    budget = app.state.cost_budget  # type: ignore[attr-defined]
    for buckets in (budget.signed_in, budget.anonymous):
        if buckets is not None:
            buckets.clock = lambda: 0.0
