"""The gateway's rate limit shared by its replicas through Redis (``GATEWAY_RATE_LIMIT_REDIS_URL``),
and what a replica does when Redis does not answer: it counts the request in its own bucket.

A real Redis: ``SETKA_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``); each test keeps its
keys under a prefix of its own and deletes them afterwards. Without a Redis the tests are skipped.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis
from setka_runtime.local_broker import free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gateway.app import create_app
from gateway.ratelimit import RateLimit, SharedBuckets
from gateway.settings import GatewaySettings

pytestmark = pytest.mark.integration

REDIS_URL = os.environ.get("SETKA_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def ok(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


async def hit(app: Any, *, client: tuple[str, int] = ("10.0.0.1", 1234)) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return await http.get("/graphql")


def replica(store: SharedBuckets | None, **options: Any) -> RateLimit:
    """One gateway replica's rate limit in front of an app that answers 200."""
    return RateLimit(Starlette(routes=[Route("/graphql", ok)]), shared=store, **options)


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        pytest.skip(f"no Redis answers at {REDIS_URL} (SETKA_TEST_REDIS_URL): {type(exc).__name__}: {exc}")
    yield client
    await client.aclose()


@pytest.fixture
async def prefix(redis: Redis) -> AsyncIterator[str]:
    """This test's own key prefix; its keys are deleted afterwards."""
    prefix = f"setka-test:ratelimit:{uuid.uuid4().hex}:"
    yield prefix
    keys = [key async for key in redis.scan_iter(match=prefix + "*")]
    if keys:
        await redis.delete(*keys)


@pytest.fixture
async def stores() -> AsyncIterator[Callable[..., SharedBuckets]]:
    """Makes stores (each stands for one replica's connection to Redis) and closes them afterwards.
    Unless a test is about timeouts, a busy machine's slow answer must not count as an outage."""
    made: list[SharedBuckets] = []

    def make(url: str = REDIS_URL, **options: Any) -> SharedBuckets:
        options.setdefault("timeout", 2.0)
        made.append(SharedBuckets(url, **options))
        return made[-1]

    yield make
    for store in made:
        await store.close()


def sample(name: str) -> float:
    return REGISTRY.get_sample_value(name, {"store": "redis"}) or 0.0


async def test_two_replicas_sharing_redis_allow_the_burst_once_not_twice(
    stores: Callable[..., SharedBuckets], prefix: str, redis: Redis
) -> None:
    # one token every 10 s: nothing comes back while the test runs
    stores_ = stores(prefix=prefix), stores(prefix=prefix)
    a, b = (replica(store, per_minute=6, burst=3) for store in stores_)
    codes = [(await hit(app)).status_code for app in (a, b, a, b, a, b)]
    assert codes == [200, 200, 200, 429, 429, 429]
    assert all(store.available for store in stores_)
    refused = await hit(b)
    assert refused.status_code == 429 and 9 <= int(refused.headers["retry-after"]) <= 10
    assert refused.json()["errors"][0]["extensions"]["code"] == "RATE_LIMITED"
    # another client has a bucket of its own, on either replica
    assert (await hit(b, client=("10.0.0.2", 1))).status_code == 200
    # one key per client, gone once it would be full again (3 tokens at 0.1 a second: ≤ 30 s)
    keys = sorted(await redis.keys(prefix + "*"))
    assert keys == [f"{prefix}10.0.0.1".encode(), f"{prefix}10.0.0.2".encode()]
    assert 0 < await redis.pttl(prefix + "10.0.0.1") <= 30_001
    # without the store each replica has its own buckets: twice the burst passes
    a, b = replica(None, per_minute=6, burst=3), replica(None, per_minute=6, burst=3)
    assert [(await hit(app)).status_code for app in (a, b, a, b, a, b)] == [200] * 6


async def test_the_shared_bucket_refills_over_time_and_then_expires(
    stores: Callable[..., SharedBuckets], prefix: str, redis: Redis
) -> None:
    stores_ = stores(prefix=prefix), stores(prefix=prefix)
    a, b = (replica(store, per_minute=120, burst=2) for store in stores_)  # a token every 0.5 s
    assert [(await hit(app)).status_code for app in (a, b, a)] == [200, 200, 429]
    assert (await hit(b)).headers["retry-after"] == "1"
    await asyncio.sleep(0.6)  # one token back, not two
    assert [(await hit(app)).status_code for app in (b, a)] == [200, 429]
    # the key lives until the bucket would be full again (≤ 1 s here), then it is gone
    assert 0 < await redis.pttl(prefix + "10.0.0.1") <= 1_001
    await asyncio.sleep(1.1)
    assert await redis.exists(prefix + "10.0.0.1") == 0
    assert [(await hit(app)).status_code for app in (a, b, a)] == [200, 200, 429]  # a full bucket
    assert all(store.available for store in stores_)


async def test_redis_down_requests_are_served_under_the_local_limit_quickly(
    stores: Callable[..., SharedBuckets], caplog: pytest.LogCaptureFixture
) -> None:
    store = stores(f"redis://127.0.0.1:{free_port()}/0", timeout=0.1)  # nothing listens there
    app = replica(store, per_minute=6, burst=2)
    fallbacks = sample("setka_gateway_rate_limit_fallbacks_total")
    with caplog.at_level(logging.WARNING, logger="gateway.ratelimit"):
        started = time.monotonic()
        codes = [(await hit(app)).status_code for _ in range(20)]
        elapsed = time.monotonic() - started
    assert codes == [200, 200] + [429] * 18  # this replica's own bucket
    assert elapsed < 1.0
    assert not store.available
    assert sample("setka_gateway_rate_limit_store_up") == 0
    assert sample("setka_gateway_rate_limit_fallbacks_total") - fallbacks == 20
    warnings = [r for r in caplog.records if r.name == "gateway.ratelimit"]
    assert len(warnings) == 1 and "does not answer" in warnings[0].getMessage()  # once an outage


async def test_a_redis_that_hangs_costs_one_timeout_then_requests_skip_it(
    stores: Callable[..., SharedBuckets],
) -> None:
    # a listener that never answers: the connection is made, the reply never comes
    server = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        store = stores(f"redis://127.0.0.1:{port}/0", timeout=0.05)
        app = replica(store, per_minute=6, burst=1)
        started = time.monotonic()
        assert (await hit(app)).status_code == 200
        first = time.monotonic() - started
        started = time.monotonic()
        assert [(await hit(app)).status_code for _ in range(10)] == [429] * 10
        rest = time.monotonic() - started
    finally:
        server.close()
    assert first < 0.5 and rest < 0.5  # one timeout of 50 ms, then none while Redis is left alone
    assert not store.available


class Gate:
    """A TCP forwarder to Redis that can be shut and opened again: a network outage."""

    def __init__(self, target: str) -> None:
        url = httpx.URL(target)
        self.target = (url.host, url.port or 6379)
        self.db = url.path or "/0"
        self.port = free_port()
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}{self.db}"

    async def open(self) -> None:
        self.server = await asyncio.start_server(self._forward, "127.0.0.1", self.port)

    async def shut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        self.writers.clear()
        await self.server.wait_closed()

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, upstream_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))


async def test_after_an_outage_the_replicas_share_the_limit_again(
    stores: Callable[..., SharedBuckets], prefix: str, redis: Redis, caplog: pytest.LogCaptureFixture
) -> None:
    gate = Gate(REDIS_URL)
    await gate.open()
    now = [1000.0]
    store = stores(gate.url, prefix=prefix, timeout=1.0, retry_seconds=5.0, clock=lambda: now[0])
    other = stores(prefix=prefix)  # a replica that still reaches Redis
    app, peer = replica(store, per_minute=6, burst=2), replica(other, per_minute=6, burst=2)
    with caplog.at_level(logging.INFO, logger="gateway.ratelimit"):
        assert (await hit(app)).status_code == 200  # shared: one token left in Redis
        assert store.available and sample("setka_gateway_rate_limit_store_up") == 1
        await gate.shut()
        # this replica falls back to its own (full) bucket; the other one still counts in Redis
        assert [(await hit(app)).status_code for _ in range(3)] == [200, 200, 429]
        assert not store.available
        assert [(await hit(peer)).status_code for _ in range(2)] == [200, 429]
        await gate.open()
        now[0] += 1.0  # Redis is left alone for retry_seconds after the failure
        assert (await hit(app)).status_code == 429  # still the local bucket
        assert not store.available
        now[0] += 5.0
        refused = await hit(app)  # Redis again: the shared bucket is empty
        assert refused.status_code == 429 and store.available
        assert sample("setka_gateway_rate_limit_store_up") == 1
    await gate.shut()
    messages = [r.getMessage() for r in caplog.records if r.name == "gateway.ratelimit"]
    assert len(messages) == 2, messages
    assert "does not answer" in messages[0] and "answers again" in messages[1]


async def test_two_gateways_share_the_limit_through_their_settings(prefix: str) -> None:
    settings = GatewaySettings(
        registry_url="http://127.0.0.1:9/graphql",
        events_url="http://127.0.0.1:9/graphql",
        analytics_url="http://127.0.0.1:9/graphql",
        rate_limit_per_minute=6,
        rate_limit_burst=2,
        rate_limit_redis_url=REDIS_URL,
        rate_limit_redis_prefix=prefix,
        rate_limit_redis_timeout_seconds=2.0,  # a busy machine's slow answer is no outage
    )
    gateways = [create_app(settings), create_app(settings)]
    try:
        codes = []
        for gateway in (*gateways, *gateways):
            transport = httpx.ASGITransport(app=gateway, client=("10.0.0.7", 1))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
                answer = await http.get("/graphql", params={"query": "{ __typename }"})
            codes.append(answer.status_code)
            if answer.status_code == 200:
                assert answer.json() == {"data": {"__typename": "Query"}}
        assert codes == [200, 200, 429, 429]
        assert all(gateway.state.rate_limit_store.available for gateway in gateways)
    finally:
        for gateway in gateways:
            await gateway.state.rate_limit_store.close()
