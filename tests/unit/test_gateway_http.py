"""GraphQL over HTTP at the gateway: bodies bounded, GET only for queries, trusted documents."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

UNREACHABLE = {
    "registry_url": "http://127.0.0.1:9/graphql",
    "events_url": "http://127.0.0.1:9/graphql",
    "analytics_url": "http://127.0.0.1:9/graphql",
}


async def call(method: str, settings: dict[str, Any] | None = None, **request: Any) -> httpx.Response:
    app = create_app(GatewaySettings(**UNREACHABLE, **(settings or {})))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        return await client.request(method, "/graphql", **request)


async def test_a_body_over_the_limit_is_refused_before_it_is_read_whole() -> None:
    big = json.dumps({"query": "{ __typename }", "variables": {"x": "я" * 2_000_000}})
    response = await call("POST", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "larger than" in response.json()["errors"][0]["message"]


async def test_get_runs_queries_but_not_mutations() -> None:
    query = await call("GET", params={"query": "{ __typename }"})
    assert query.status_code == 200 and query.json() == {"data": {"__typename": "Query"}}
    mutation = await call(
        "GET",
        params={"query": 'mutation { archiveOrganization(id: "x") { __typename } }'},
        headers={"accept": "application/graphql-response+json"},
    )
    assert mutation.status_code == 405 and mutation.headers["allow"] == "POST"


async def test_validation_errors_are_4xx_only_for_the_new_media_type() -> None:
    body = {"query": "{ nosuchfield }"}
    modern = await call("POST", json=body, headers={"accept": "application/graphql-response+json"})
    assert modern.status_code == 400 and "data" not in modern.json()
    assert modern.headers["content-type"].startswith("application/graphql-response+json")
    legacy = await call("POST", json=body, headers={"accept": "application/json"})
    assert legacy.status_code == 200 and "Cannot query field" in legacy.json()["errors"][0]["message"]


async def test_only_persisted_documents_run_when_the_gateway_says_so(tmp_path: Path) -> None:
    trusted = "query Who { __typename }"
    digest = hashlib.sha256(trusted.encode()).hexdigest()
    manifest = tmp_path / "documents.json"
    manifest.write_text(json.dumps({digest: trusted}), encoding="utf-8")
    settings = {"persisted_documents": manifest, "persisted_only": True}

    by_id = await call("POST", settings, json={"documentId": digest})
    assert by_id.json() == {"data": {"__typename": "Query"}}
    by_apollo_hash = await call(
        "POST", settings, json={"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    )
    assert by_apollo_hash.json() == {"data": {"__typename": "Query"}}
    same_text = await call("POST", settings, json={"query": trusted})
    assert same_text.json() == {"data": {"__typename": "Query"}}
    other = await call("POST", settings, json={"query": "{ __typename }"})
    assert other.status_code == 400 and "persisted" in other.json()["errors"][0]["message"]
    unknown = await call("POST", settings, json={"documentId": "0" * 64})
    assert unknown.status_code == 400


async def test_graphiql_is_served_to_browsers_only_outside_production() -> None:
    page = await call("GET", headers={"accept": "text/html"})
    assert page.status_code == 200 and "graphiql" in page.text.lower()
    production = {"environment": "production", "jwt_secret": "s" * 40, "internal_token_secret": "i" * 40}
    refused = await call("GET", production, headers={"accept": "text/html"})
    assert refused.status_code != 200 or "graphiql" not in refused.text.lower()


async def test_a_bad_token_is_a_401_and_a_mutation_without_a_role_is_refused() -> None:
    bad = await call("POST", json={"query": "{ __typename }"}, headers={"authorization": "Bearer nonsense"})
    assert bad.status_code == 401
    refused = await call(
        "POST",
        json={"query": 'mutation { archiveOrganization(id: "x") { __typename } }'},
        headers={"accept": "application/graphql-response+json"},
    )
    assert refused.status_code == 401
    error = refused.json()["errors"][0]
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and "archiveOrganization" in error["message"]
