"""A subgraph tells its callers what they did wrong, and nothing of its own failures."""

from __future__ import annotations

import logging

import pytest
import strawberry
from setka_runtime.errors import DomainError
from setka_runtime.graphql import SubgraphSchema

pytestmark = pytest.mark.unit


@strawberry.type
class Query:
    @strawberry.field
    def broken(self) -> str:
        raise RuntimeError(
            'relation "secret" does not exist: SELECT password FROM secret WHERE host=10.0.0.5'
        )

    @strawberry.field
    def refused(self, year: int) -> str:
        raise DomainError("Год — от 2000 до 2100", code="YEAR_OUT_OF_RANGE", field="year")


schema = SubgraphSchema(query=Query)


async def test_an_unexpected_failure_reaches_the_caller_as_a_plain_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.ERROR):
        result = await schema.execute("{ broken }")
    assert result.errors is not None
    formatted = result.errors[0].formatted
    assert formatted["message"] == "Internal server error"
    assert formatted["extensions"] == {"code": "INTERNAL_SERVER_ERROR"}
    assert "SELECT" not in str(formatted) and "10.0.0.5" not in str(formatted)
    assert "SELECT password" in caplog.text  # the operator still sees what happened


async def test_a_rule_of_the_domain_is_still_explained_to_the_caller() -> None:
    result = await schema.execute("{ refused(year: 1900) }")
    assert result.errors is not None
    formatted = result.errors[0].formatted
    assert formatted["message"] == "Год — от 2000 до 2100"
    assert formatted["extensions"] == {
        "code": "BAD_USER_INPUT",
        "validationCode": "YEAR_OUT_OF_RANGE",
        "field": "year",
    }


@strawberry.type
class Node:
    @strawberry.field
    def next(self) -> Node:
        return Node()

    name: str = "узел"


@strawberry.type
class Graph:
    @strawberry.field
    def node(self) -> Node:
        return Node()


graph = SubgraphSchema(query=Graph)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("{ node { " + "next { " * 20 + "name" + " }" * 20 + " } }", "exceeds maximum operation depth"),
        ("{ " + " ".join(f"a{i}: node {{ name }}" for i in range(120)) + " }", "aliases"),
        ("{ __schema { types { name } } }", "introspection"),
    ],
)
async def test_a_subgraph_enforces_its_own_limits_whoever_sends_the_request(query: str, words: str) -> None:
    """Defence in depth: a request that reached a service around the gateway meets limits too."""
    result = await graph.execute(query)
    assert result.errors, result.data
    assert words in result.errors[0].message.lower()


async def test_what_a_gateways_plan_sends_passes_the_subgraphs_limits() -> None:
    planned = "{ node { " + "next { " * 10 + "name" + " }" * 10 + " } _service { sdl } }"
    result = await graph.execute(planned)
    assert result.errors is None, result.errors
