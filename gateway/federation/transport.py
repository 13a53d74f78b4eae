"""Requests to subgraphs: pooled keep-alive connections, identical requests in flight sent once."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from typing import Any

import aiohttp
import orjson
from prometheus_client import Counter as MetricCounter
from prometheus_client import Histogram
from setka_runtime import tracing

SUBGRAPH_REQUESTS = MetricCounter(
    "setka_gateway_subgraph_requests_total", "Requests from the gateway to a subgraph", ["service"]
)
SUBGRAPH_SECONDS = Histogram(
    "setka_gateway_subgraph_seconds", "Time a subgraph took to answer the gateway", ["service"]
)

log = logging.getLogger(__name__)

ACCEPT = "application/graphql-response+json, application/json;q=0.9"


class SubgraphUnavailable(Exception):
    """A subgraph did not answer with GraphQL; the reason is logged, the client sees the service."""

    def __init__(self, service: str) -> None:
        super().__init__(f"the {service} service is unavailable")
        self.service = service


class Subgraphs:
    """The subgraphs by name; counts every request it sends (tests check batching with it)."""

    IDLE_SECONDS = 30
    """Idle pooled connections are dropped after this, before the services drop them
    (``setka_runtime.cli.KEEP_ALIVE_SECONDS``): a request written on a connection the server is
    closing fails."""

    def __init__(self, urls: dict[str, str], *, timeout: float, connections: int = 64) -> None:
        self.urls = urls
        self.timeout = timeout
        self.connections = connections
        self.calls: Counter[str] = Counter()
        self._session: aiohttp.ClientSession | None = None
        self._in_flight: dict[tuple[str, bytes], asyncio.Future[bytes]] = {}

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(
                    limit=self.connections, keepalive_timeout=self.IDLE_SECONDS, ttl_dns_cache=300
                ),
                timeout=aiohttp.ClientTimeout(total=self.timeout),
                json_serialize=lambda value: orjson.dumps(value).decode(),
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    async def send(
        self, service: str, body: dict[str, Any], headers: dict[str, str] | None = None, *, share: bool = True
    ) -> bytes:
        """The raw answer of ``service`` to one GraphQL request; identical queries share one call."""
        payload = orjson.dumps(body)
        if not share:
            return await self._post(service, payload, headers)
        key = (service, payload + orjson.dumps(headers or {}))
        running = self._in_flight.get(key)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._in_flight[key] = future
        try:
            answer = await self._post(service, payload, headers)
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marks it retrieved when nobody else waits
            raise
        else:
            future.set_result(answer)
            return answer
        finally:
            del self._in_flight[key]

    async def _post(self, service: str, payload: bytes, headers: dict[str, str] | None) -> bytes:
        self.calls[service] += 1
        SUBGRAPH_REQUESTS.labels(service).inc()
        request_headers = {"content-type": "application/json", "accept": ACCEPT, **(headers or {})}
        with tracing.span(
            f"POST {service}",
            component="gateway",
            kind=tracing.SpanKind.CLIENT,
            attributes={"http.request.method": "POST", "server.address": service, "setka.subgraph": service},
        ) as span:
            tracing.inject(request_headers)  # the subgraph's span is this one's child
            try:
                with SUBGRAPH_SECONDS.labels(service).time():
                    async with self._client().post(
                        self.urls[service], data=payload, headers=request_headers
                    ) as reply:
                        span.set_attribute("http.response.status_code", reply.status)
                        answer = await reply.read()
                        if reply.status >= 500 or not reply.content_type.endswith("json"):
                            raise SubgraphUnavailableReply(f"HTTP {reply.status} {reply.content_type}")
                        return answer
            except (aiohttp.ClientError, TimeoutError, OSError, SubgraphUnavailableReply) as exc:
                log.warning("subgraph %s unavailable: %s", service, exc)
                tracing.mark_error(exc)
                raise SubgraphUnavailable(service) from exc

    async def query(self, service: str, body: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        """The decoded answer, which must be a GraphQL response (``data`` and/or ``errors``)."""
        answer = await self.send(service, body, headers, share=not body["query"].startswith("mutation"))
        try:
            decoded = orjson.loads(answer)
        except orjson.JSONDecodeError as exc:
            log.warning("subgraph %s answered with something other than JSON", service)
            raise SubgraphUnavailable(service) from exc
        if not isinstance(decoded, dict) or not ("data" in decoded or "errors" in decoded):
            raise SubgraphUnavailable(service)
        return decoded

    async def ready(self) -> None:
        for service, url in self.urls.items():
            try:
                async with self._client().get(url.rsplit("/graphql", 1)[0] + "/readyz") as reply:
                    if reply.status != 200:
                        raise ConnectionError(f"{service} is not ready")
            except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                raise ConnectionError(f"{service} is not reachable") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class SubgraphUnavailableReply(Exception):
    pass
