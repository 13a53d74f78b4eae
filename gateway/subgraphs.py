"""Calls to the services' subgraphs over HTTP; every call is counted for N+1 tests."""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

import httpx
from prometheus_client import Counter as MetricCounter

SUBGRAPH_REQUESTS = MetricCounter(
    "setka_gateway_subgraph_requests_total", "Requests from the gateway to a subgraph", ["service"]
)

log = logging.getLogger(__name__)


class SubgraphError(Exception):
    """A subgraph did not answer or answered with errors; details go to the log, not the client."""


class Subgraphs:
    def __init__(self, urls: dict[str, str], *, timeout: float) -> None:
        self.urls = urls
        self.calls: Counter[str] = Counter()
        self._client = httpx.AsyncClient(timeout=timeout)

    async def query(self, service: str, query: str, variables: dict[str, Any] | None = None) -> Any:
        self.calls[service] += 1
        SUBGRAPH_REQUESTS.labels(service).inc()
        try:
            response = await self._client.post(
                self.urls[service], json={"query": query, "variables": variables or {}}
            )
            response.raise_for_status()
            payload = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.error("subgraph %s unavailable: %s", service, exc)
            raise SubgraphError(f"the {service} service is unavailable") from exc
        if payload.get("errors"):
            log.error("subgraph %s answered with errors: %s", service, payload["errors"])
            raise SubgraphError(f"the {service} service could not answer")
        return payload["data"]

    async def entities(
        self, service: str, typename: str, keys: list[dict[str, Any]], selection: str
    ) -> list[Any]:
        """Resolve many entities of one type in one ``_entities`` call."""
        query = (
            "query($r: [_Any!]!) { _entities(representations: $r) { "
            f"... on {typename} {{ {selection} }} }} }}"
        )
        data = await self.query(service, query, {"r": [{"__typename": typename, **key} for key in keys]})
        return data["_entities"]

    async def ready(self) -> None:
        for service, url in self.urls.items():
            response = await self._client.get(url.rsplit("/graphql", 1)[0] + "/readyz")
            if response.status_code != 200:
                raise ConnectionError(f"{service} not ready: {response.text[:200]}")

    async def close(self) -> None:
        await self._client.aclose()
