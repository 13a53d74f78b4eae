"""Every root field of every subgraph is in the supergraph and answers through the gateway."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import GraphQLSchema

from gateway.app import create_app
from gateway.settings import GatewaySettings
from services.analytics.schema import schema as analytics
from services.events.schema import schema as events
from services.registry.schema import schema as registry

pytestmark = pytest.mark.unit

INTROSPECT = """{ __schema {
  queryType { fields { name } } mutationType { fields { name } } subscriptionType { fields { name } }
} }"""


def root_fields(schema: GraphQLSchema) -> set[str]:
    found = set()
    for kind, root in (
        ("Query", schema.query_type),
        ("Mutation", schema.mutation_type),
        ("Subscription", schema.subscription_type),
    ):
        for name in root.fields if root else ():
            if not name.startswith("_"):
                found.add(f"{kind}.{name}")
    return found


async def ask(query: str, **settings: Any) -> Any:
    app = create_app(GatewaySettings(**settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        response = await client.post("/graphql", json={"query": query})
    return response.json()


async def test_the_gateway_offers_every_root_field_of_every_subgraph() -> None:
    offered = set()
    for schema in (registry, events, analytics):
        offered |= root_fields(schema._schema)
    body = await ask(INTROSPECT)
    seen = set()
    for kind, key in (
        ("Query", "queryType"),
        ("Mutation", "mutationType"),
        ("Subscription", "subscriptionType"),
    ):
        for field in (body["data"]["__schema"][key] or {}).get("fields") or ():
            seen.add(f"{kind}.{field['name']}")
    assert offered - seen == set(), "subgraph root fields missing from the gateway"
    assert seen - offered == set(), "gateway root fields no subgraph resolves"
    assert len([f for f in seen if f.startswith("Query.")]) >= 25
    assert len([f for f in seen if f.startswith("Mutation.")]) >= 38


async def test_federation_machinery_is_not_part_of_the_api() -> None:
    body = await ask("{ __schema { types { name } directives { name } } }")
    names = {t["name"] for t in body["data"]["__schema"]["types"]}
    assert not {n for n in names if n.startswith(("join__", "link__", "_Service", "_Any"))}
    assert "_entities" not in str(body)
    directives = {d["name"] for d in body["data"]["__schema"]["directives"]}
    assert directives <= {"skip", "include", "deprecated", "specifiedBy", "oneOf"}


async def test_introspection_is_off_in_production_unless_enabled() -> None:
    production = {"environment": "production", "jwt_secret": "x" * 40, "internal_token_secret": "i" * 40}
    refused = await ask("{ __schema { queryType { name } } }", **production)
    assert "introspection" in refused["errors"][0]["message"].lower()
    allowed = await ask("{ __schema { queryType { name } } }", introspection=True, **production)
    assert allowed["data"]["__schema"]["queryType"]["name"] == "Query"


async def test_graphiqls_introspection_answers_but_endless_introspection_is_refused() -> None:
    from graphql import get_introspection_query

    full = await ask(get_introspection_query(descriptions=True))
    assert "errors" not in full and full["data"]["__schema"]["queryType"]["name"] == "Query"
    endless = "{ __schema { types { fields { type { fields { type { fields { type { fields { name }"
    endless += " } } } } } } } } }"
    refused = await ask(endless)
    assert "introspection depth" in refused["errors"][0]["message"]
