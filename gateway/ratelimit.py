"""Per-client rate limiting at the gateway: a token bucket per client, as raw ASGI middleware.

A client may make ``burst`` requests at once and ``per_minute`` on average. Only HTTP requests
under the limited path prefixes (``/graphql``, ``/reports`` by default) count; a WebSocket counts
once, when it connects; ``/healthz``, ``/readyz`` and ``/metrics`` never do.

The client is its IP address (an IPv6 one by its /64), not the subject of its bearer token: the
token is not verified here, so anyone could send a fresh made-up subject with every request.
Behind reverse proxies name them (``trusted_proxies``, CIDRs; ``trust_forwarded`` alone trusts
the private ranges): a request from one of them counts against the rightmost address of
``X-Forwarded-For`` that is not a trusted proxy, since a client can write anything to its left.
Without a shared store the buckets are this process's: each gateway replica limits on its own,
so behind a load balancer a client gets the limit once per replica. Buckets do not pile up: one
that has filled up again is the same as none and is dropped by a periodic sweep, and at most
``max_keys`` are kept (the least recently used go first).

With a shared store (``SharedBuckets``, ``GATEWAY_RATE_LIMIT_REDIS_URL``) every replica naming the
same Redis and key prefix takes from one bucket per client: together they allow ``burst`` at once
and ``per_minute`` on average, not that times the replicas. A bucket is one Redis hash,
``<prefix><client>``, read, refilled and taken from by one Lua script (EVALSHA, one round trip,
atomic) on Redis's clock, and it expires when it would be full again, so keys do not pile up.
When Redis does not answer within its timeout (100 ms by default), the request is counted by
this replica's own bucket instead, and so is every request until Redis answers again (it is
tried again every few seconds): the limit is then per replica, as without a store. An outage is
logged once when it starts and once when it ends, and shows in the metrics
``setka_gateway_rate_limit_store_up`` (0 during one) and
``setka_gateway_rate_limit_fallbacks_total`` (requests counted by a replica's own bucket).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .observed import OTHER, observe

if TYPE_CHECKING:
    from redis.asyncio import Redis

log = logging.getLogger(__name__)

STORE_UP = Gauge(
    "setka_gateway_rate_limit_store_up",
    "1 while the rate limit's shared store answers, 0 while the replica limits on its own instead",
    ["store"],
)
STORE_FALLBACKS = Counter(
    "setka_gateway_rate_limit_fallbacks_total",
    "Requests counted by the replica's own bucket because the shared store did not answer",
    ["store"],
)

Key = Callable[[Scope], str]
Clock = Callable[[], float]

MAX_KEY_LENGTH = 200  # a header can be long; the bucket map should not hold it whole


Network = ipaddress.IPv4Network | ipaddress.IPv6Network

PRIVATE_PROXIES: tuple[Network, ...] = tuple(
    ipaddress.ip_network(cidr)
    for cidr in ("127.0.0.0/8", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "::1/128", "fc00::/7")
)
"""Where a proxy of the deployment's own usually is (an ingress, a load balancer in the cluster):
what ``trust_forwarded`` trusts unless ``trusted_proxies`` names the proxies."""


def networks(text: str) -> tuple[Network, ...]:
    """``10.0.0.0/8, 2001:db8::/32`` as networks; raise ValueError naming a bad entry."""
    found = []
    for part in (piece.strip() for piece in text.split(",")):
        if part:
            try:
                found.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(f"not an address or CIDR network: {part[:60]!r}") from None
    return tuple(found)


def client_address(scope: Scope, *, trusted: tuple[Network, ...] = ()) -> str:
    """Who a request counts against: the connection's peer or, when the peer is one of the
    ``trusted`` proxies, the rightmost address of ``X-Forwarded-For`` that is not (the leftmost
    ones are whatever the client wrote). An IPv6 client counts by its /64: one host has many."""
    client = scope.get("client")
    peer = str(client[0]) if client else ""
    if trusted and _within(peer, trusted):
        forwarded: list[str] = []
        for name, value in scope.get("headers") or ():
            if name.lower() == b"x-forwarded-for":
                forwarded.extend(part.strip() for part in value.decode("latin-1").split(","))
        for address in reversed([a for a in forwarded if a]):
            if not _within(address, trusted):
                return _key(address)
    return _key(peer) if peer else "unknown"


def _within(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(parsed in network for network in trusted)


def _key(address: str) -> str:
    try:
        parsed = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return address[:MAX_KEY_LENGTH]
    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


class TokenBuckets:
    """Token buckets by key: ``capacity`` tokens, refilled at ``rate`` tokens a second."""

    def __init__(self, *, rate: float, capacity: float, clock: Clock, max_keys: int) -> None:
        self.rate = rate
        self.capacity = capacity
        self.clock = clock
        self.max_keys = max(1, max_keys)
        self.refill_seconds = capacity / rate  # how long an empty bucket takes to fill
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self.last_sweep = clock()

    def __len__(self) -> int:
        return len(self.buckets)

    def take(self, key: str, amount: float = 1.0) -> float:
        """Take ``amount`` tokens for ``key``: 0 if there were as many, else the seconds until
        there are (and none is taken)."""
        now = self.clock()
        self._sweep(now)
        tokens, at = self.buckets.pop(key, (self.capacity, now))
        tokens = min(self.capacity, tokens + max(0.0, now - at) * self.rate)
        if tokens >= amount:
            self._store(key, tokens - amount, now)
            return 0.0
        self._store(key, tokens, now)
        return (amount - tokens) / self.rate

    def _store(self, key: str, tokens: float, now: float) -> None:
        self.buckets[key] = (tokens, now)  # popped before, so it goes to the most recent end
        while len(self.buckets) > self.max_keys:
            self.buckets.popitem(last=False)

    def _sweep(self, now: float) -> None:
        """Drop the buckets that are full again (as good as absent), once per refill time."""
        if now - self.last_sweep < max(1.0, self.refill_seconds):
            return
        self.last_sweep = now
        full = [
            key
            for key, (tokens, at) in self.buckets.items()
            if tokens + (now - at) * self.rate >= self.capacity
        ]
        for key in full:
            del self.buckets[key]


TAKE_SCRIPT = """
-- KEYS[1]: a client's bucket, a hash of tokens (t) and when they were counted (a, Redis's clock);
-- ARGV[1]: tokens a second, ARGV[2]: the capacity, ARGV[3]: the tokens to take (1 unless given).
-- Returns the seconds to wait, "0" for none (then the tokens are taken).
if redis.replicate_commands then redis.replicate_commands() end -- TIME before a write, Redis < 5
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local amount = tonumber(ARGV[3] or '1')
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local bucket = redis.call('HMGET', KEYS[1], 't', 'a')
local tokens = tonumber(bucket[1])
local at = tonumber(bucket[2])
if tokens == nil or at == nil then
  tokens = capacity
  at = now
end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= amount then
  tokens = tokens - amount
else
  wait = (amount - tokens) / rate
end
redis.call('HSET', KEYS[1], 't', tokens, 'a', now)
-- gone once it would be full again: an absent bucket is a full one
redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate * 1000) + 1)
return tostring(wait)
"""


class SharedBuckets:
    """Token buckets in Redis, shared by every gateway replica that names the same Redis and
    ``prefix``; see the module's docstring. ``take`` answers ``None`` when Redis did not answer
    within ``timeout``: the caller counts the request itself. After a failure Redis is left alone
    for ``retry_seconds`` (each request is counted locally at once), then tried again."""

    STORE = "redis"

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "setka:ratelimit:",
        timeout: float = 0.1,
        retry_seconds: float = 5.0,
        max_connections: int = 32,
        clock: Clock = time.monotonic,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.timeout = timeout
        self.retry_seconds = retry_seconds
        self.max_connections = max_connections
        self.clock = clock
        self.client: Redis | None = None  # made on first use, in the loop that serves
        self.script: Any = None
        self.answered = False  # since the start or the last outage
        self.down_since: float | None = None  # when the outage began; None while Redis answers
        self.retry_at = 0.0
        self.fallbacks = STORE_FALLBACKS.labels(self.STORE)
        self.up = STORE_UP.labels(self.STORE)

    @property
    def available(self) -> bool:
        return self.down_since is None

    def _connect(self) -> Redis:
        from redis.asyncio import BlockingConnectionPool, Redis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        pool = BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=self.timeout,  # waiting for a free connection
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 0),  # a failure falls back at once; no retries on the request path
        )
        self.client = Redis.from_pool(pool)
        self.script = self.client.register_script(TAKE_SCRIPT)
        return self.client

    async def take(self, key: str, *, rate: float, capacity: float, amount: float = 1.0) -> float | None:
        """Take ``amount`` tokens for ``key``: 0 if there were as many, else the seconds until
        there are; None when Redis did not answer (count the request locally)."""
        now = self.clock()
        if self.down_since is not None:
            if now < self.retry_at:
                self.fallbacks.inc()
                return None
            self.retry_at = now + self.retry_seconds  # one request tries; the others go on locally
        try:
            if self.script is None:
                self._connect()
            async with asyncio.timeout(self.timeout):
                answer = await self.script(
                    keys=[self.prefix + key], args=[repr(rate), repr(capacity), repr(amount)]
                )
            wait = float(answer)
        except Exception as exc:  # whatever it is, the request is served under the local limit
            self._failed(now, exc)
            self.fallbacks.inc()
            return None
        if not self.answered and (self.down_since is None or now >= self.down_since):
            # (a request sent before the outage began and answered since tells nothing new)
            if self.down_since is not None:
                log.info(
                    "rate limit: the shared store (Redis) answers again after %.0f s; the replicas"
                    " share the limit again",
                    now - self.down_since,
                )
            self.answered = True
            self.down_since = None
            self.up.set(1)
        return wait

    def _failed(self, now: float, exc: Exception) -> None:
        self.retry_at = now + self.retry_seconds
        self.answered = False
        if self.down_since is None:
            self.down_since = now
            self.up.set(0)
            reason = "timed out" if isinstance(exc, TimeoutError) else f"{type(exc).__name__}: {exc}"[:300]
            log.warning(
                "rate limit: the shared store (Redis) does not answer (%s); each gateway replica limits"
                " on its own until it does (tried again every %.0f s)",
                reason,
                self.retry_seconds,
            )

    async def close(self) -> None:
        if self.client is not None:
            client, self.client, self.script = self.client, None, None
            await client.aclose()


class RateLimit:
    """ASGI middleware: ``429 Too Many Requests`` with ``Retry-After`` once a client is over.

    With ``shared`` the buckets are in that store, and this process's own count only the requests
    the store did not answer for."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        per_minute: int,
        burst: int,
        key: Key | None = None,
        paths: tuple[str, ...] = ("/graphql", "/reports"),
        trust_forwarded: bool = False,
        trusted_proxies: tuple[Network, ...] = (),
        max_keys: int = 100_000,
        clock: Clock = time.monotonic,
        shared: SharedBuckets | None = None,
    ) -> None:
        self.app = app
        self.shared = shared
        self.enabled = per_minute > 0
        self.paths = tuple(path.rstrip("/") for path in paths)
        self.trusted = trusted_proxies or (PRIVATE_PROXIES if trust_forwarded else ())
        self.key: Key = key or self._default_key
        if self.enabled and burst < 1:
            raise ValueError(f"the rate limit's burst must be at least 1, not {burst}")
        self.buckets = TokenBuckets(
            rate=max(per_minute, 1) / 60.0,
            capacity=float(max(burst, 1)),
            clock=clock,
            max_keys=max_keys,
        )

    def _default_key(self, scope: Scope) -> str:
        return client_address(scope, trusted=self.trusted)

    def limited(self, path: str) -> bool:
        return any(path == prefix or path.startswith(prefix + "/") for prefix in self.paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] not in ("http", "websocket") or not self.limited(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = self.key(scope)
        wait = None
        if self.shared is not None:
            wait = await self.shared.take(key, rate=self.buckets.rate, capacity=self.buckets.capacity)
        if wait is None:
            wait = self.buckets.take(key)
        if wait <= 0:
            await self.app(scope, receive, send)
            return
        retry_after = max(1, math.ceil(wait))
        if scope["type"] == "http" and scope["path"] == "/graphql":
            observe(OTHER, 429, None)  # refused before its body, and so its operation, was read
        if scope["type"] == "http":
            await self._refuse_http(send, retry_after)
        else:
            await self._refuse_websocket(scope, receive, send, retry_after)

    @staticmethod
    def _answer(retry_after: int) -> tuple[list[tuple[bytes, bytes]], bytes]:
        body = json.dumps(
            {
                "errors": [
                    {
                        "message": f"Too many requests; try again in {retry_after} s",
                        "extensions": {"code": "RATE_LIMITED"},
                    }
                ]
            }
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"retry-after", str(retry_after).encode()),
            (b"cache-control", b"no-store"),
        ]
        return headers, body

    async def _refuse_http(self, send: Send, retry_after: int) -> None:
        headers, body = self._answer(retry_after)
        await send({"type": "http.response.start", "status": 429, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _refuse_websocket(self, scope: Scope, receive: Receive, send: Send, retry_after: int) -> None:
        message: Message = await receive()  # websocket.connect
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in (scope.get("extensions") or {}):
            headers, body = self._answer(retry_after)
            await send({"type": "websocket.http.response.start", "status": 429, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:  # the server turns a close before the handshake into HTTP 403
            await send({"type": "websocket.close", "code": 1008, "reason": "rate limited"})


class CostBudget:
    """What each caller may cost the subgraphs a minute: a token bucket of cost units (see
    ``gateway.federation.cost``) per caller, ``per_minute`` deep and refilled at ``per_minute``
    a minute, lower for anonymous callers. A signed-in caller is its token's subject (the token is
    verified by then), an anonymous one its client address as the rate limit counts it. Shared
    between replicas through the rate limit's store when there is one (keys ``cost:…``)."""

    def __init__(
        self,
        *,
        per_minute: int,
        anonymous_per_minute: int,
        shared: SharedBuckets | None = None,
        max_keys: int = 100_000,
        clock: Clock = time.monotonic,
    ) -> None:
        self.shared = shared
        self.signed_in = self._buckets(per_minute, clock, max_keys)
        self.anonymous = self._buckets(anonymous_per_minute, clock, max_keys)

    @staticmethod
    def _buckets(per_minute: int, clock: Clock, max_keys: int) -> TokenBuckets | None:
        if per_minute <= 0:
            return None
        return TokenBuckets(
            rate=per_minute / 60.0, capacity=float(per_minute), clock=clock, max_keys=max_keys
        )

    async def charge(self, caller: str, cost: int, *, anonymous: bool) -> float:
        """Take ``cost`` from the caller's budget: 0 when it was there (or there is no budget),
        else the seconds until it will be (and nothing is taken). A negative ``cost`` gives back
        (never past a full budget)."""
        buckets = self.anonymous if anonymous else self.signed_in
        if buckets is None or cost == 0:
            return 0.0
        key = ("cost:anonymous:" if anonymous else "cost:subject:") + caller[:MAX_KEY_LENGTH]
        wait = None
        if self.shared is not None:
            wait = await self.shared.take(key, rate=buckets.rate, capacity=buckets.capacity, amount=cost)
        if wait is None:
            wait = buckets.take(key, cost)
        return wait
