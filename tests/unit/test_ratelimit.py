"""The gateway's per-client rate limit: a token bucket per client IP, as ASGI middleware."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from gateway.ratelimit import RateLimit, client_address, networks

pytestmark = pytest.mark.unit


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def ok(_: Request) -> PlainTextResponse:
    return PlainTextResponse("ok")


ROUTES = [
    Route("/graphql", ok, methods=["GET", "POST"]),
    Route("/reports/{path:path}", ok),
    Route("/healthz", ok),
    Route("/metrics", ok),
    Route("/graphqlish", ok),
]


def limited(clock: Clock, **options: Any) -> RateLimit:
    options.setdefault("per_minute", 60)
    options.setdefault("burst", 3)
    return RateLimit(Starlette(routes=ROUTES), clock=clock, **options)


async def hit(
    app: Any, path: str = "/graphql", *, client: tuple[str, int] = ("10.0.0.1", 1234), **request: Any
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=client)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        return await http.get(path, **request)


async def test_a_burst_passes_then_429_with_retry_after() -> None:
    app = limited(Clock(), per_minute=60, burst=3)
    for _ in range(3):
        assert (await hit(app)).status_code == 200
    refused = await hit(app)
    assert refused.status_code == 429
    assert refused.headers["retry-after"] == "1"
    assert refused.headers["content-type"] == "application/json"
    assert refused.json() == {
        "errors": [{"message": "Too many requests; try again in 1 s", "extensions": {"code": "RATE_LIMITED"}}]
    }


async def test_retry_after_is_a_whole_number_of_seconds_rounded_up() -> None:
    clock = Clock()
    app = limited(clock, per_minute=7, burst=1)  # one token every 60/7 ≈ 8.57 s
    assert (await hit(app)).status_code == 200
    assert (await hit(app)).headers["retry-after"] == "9"
    clock.now += 8.0
    refused = await hit(app)
    assert refused.headers["retry-after"] == "1"
    assert "try again in 1 s" in refused.json()["errors"][0]["message"]


async def test_tokens_come_back_over_time() -> None:
    clock = Clock()
    app = limited(clock, per_minute=60, burst=2)  # one token a second
    assert [(await hit(app)).status_code for _ in range(3)] == [200, 200, 429]
    clock.now += 0.5
    assert (await hit(app)).status_code == 429
    clock.now += 0.5
    assert [(await hit(app)).status_code for _ in range(2)] == [200, 429]
    clock.now += 3600  # the bucket fills up to the burst, no further
    assert [(await hit(app)).status_code for _ in range(3)] == [200, 200, 429]


async def test_clients_are_limited_independently() -> None:
    app = limited(Clock(), burst=1)
    assert (await hit(app, client=("10.0.0.1", 1))).status_code == 200
    assert (await hit(app, client=("10.0.0.1", 2))).status_code == 429  # the port does not matter
    assert (await hit(app, client=("10.0.0.2", 1))).status_code == 200


async def test_made_up_token_subjects_do_not_get_a_fresh_bucket() -> None:
    app = limited(Clock(), burst=1)
    assert (await hit(app, headers={"authorization": "Bearer a.b.c"})).status_code == 200
    assert (await hit(app, headers={"authorization": "Bearer x.y.z"})).status_code == 429


async def test_x_forwarded_for_counts_only_when_trusted() -> None:
    untrusted = limited(Clock(), burst=1)
    assert (await hit(untrusted, headers={"x-forwarded-for": "1.1.1.1"})).status_code == 200
    assert (await hit(untrusted, headers={"x-forwarded-for": "2.2.2.2"})).status_code == 429

    trusted = limited(Clock(), burst=1, trust_forwarded=True)
    proxy = ("10.0.0.9", 1)
    first = await hit(trusted, client=proxy, headers={"x-forwarded-for": "1.1.1.1, 10.0.0.8"})
    assert first.status_code == 200
    assert (await hit(trusted, client=proxy, headers={"x-forwarded-for": "1.1.1.1"})).status_code == 429
    assert (await hit(trusted, client=proxy, headers={"x-forwarded-for": "2.2.2.2"})).status_code == 200
    assert (await hit(trusted, client=proxy)).status_code == 200  # no header: the peer's address
    # a client cannot escape its bucket by writing addresses to the left of its own
    forged = await hit(trusted, client=proxy, headers={"x-forwarded-for": "9.9.9.9, 1.1.1.1"})
    assert forged.status_code == 429
    # a header from a peer that is no trusted proxy is ignored
    direct = await hit(trusted, client=("5.5.5.5", 1), headers={"x-forwarded-for": "6.6.6.6"})
    assert direct.status_code == 200
    assert (
        await hit(trusted, client=("5.5.5.5", 1), headers={"x-forwarded-for": "7.7.7.7"})
    ).status_code == 429


def test_client_address() -> None:
    proxies = networks("10.0.0.0/8, 2001:db8:ffff::/48")
    scope = {
        "type": "http",
        "client": ("10.0.0.1", 5),
        "headers": [(b"x-forwarded-for", b" 3.3.3.3 ,4.4.4.4, 10.0.0.7")],
    }
    assert client_address(scope) == "10.0.0.1"
    # the rightmost address that is not a trusted proxy: 3.3.3.3 is whatever the client wrote
    assert client_address(scope, trusted=proxies) == "4.4.4.4"
    assert client_address({"type": "http", "client": None, "headers": []}) == "unknown"
    long = {"type": "http", "client": ("10.0.0.1", 5), "headers": [(b"x-forwarded-for", b"9" * 10_000)]}
    assert len(client_address(long, trusted=proxies)) <= 200
    # one IPv6 host has a /64 to choose addresses from: they count as one client
    six = {"type": "http", "client": ("2001:db8:1:2:aaaa::1", 5), "headers": []}
    other = {"type": "http", "client": ("2001:db8:1:2:bbbb::9", 5), "headers": []}
    assert client_address(six) == client_address(other) == "2001:db8:1:2::/64"
    with pytest.raises(ValueError, match="not an address or CIDR"):
        networks("10.0.0.0/8, proxy.example")


async def test_health_metrics_and_other_paths_are_not_limited() -> None:
    app = limited(Clock(), burst=1)
    assert (await hit(app)).status_code == 200
    assert (await hit(app)).status_code == 429
    for path in ("/healthz", "/metrics", "/graphqlish"):
        assert [(await hit(app, path)).status_code for _ in range(5)] == [200] * 5, path


async def test_report_downloads_are_limited() -> None:
    app = limited(Clock(), burst=2)
    assert (await hit(app, "/reports/a.xlsx")).status_code == 200
    assert (await hit(app, "/graphql")).status_code == 200  # one bucket for the client
    assert (await hit(app, "/reports/b.pdf")).status_code == 429


async def test_custom_key_and_paths() -> None:
    app = limited(Clock(), burst=1, paths=("/healthz",), key=lambda scope: "everyone")
    assert (await hit(app, "/healthz", client=("10.0.0.1", 1))).status_code == 200
    assert (await hit(app, "/healthz", client=("10.0.0.2", 1))).status_code == 429
    assert (await hit(app, "/graphql")).status_code == 200


async def test_disabled_when_per_minute_is_not_positive() -> None:
    for per_minute in (0, -1):
        app = limited(Clock(), per_minute=per_minute, burst=0)
        assert all([(await hit(app)).status_code == 200 for _ in range(20)])
        assert len(app.buckets) == 0


def test_a_burst_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="burst"):
        limited(Clock(), per_minute=60, burst=0)


async def test_full_buckets_are_swept_away() -> None:
    clock = Clock()
    app = limited(clock, per_minute=60, burst=2)  # a bucket refills in 2 s
    for i in range(50):
        await hit(app, client=(f"10.0.1.{i}", 1))
    assert len(app.buckets) == 50
    clock.now += 2.0
    await hit(app, client=("10.0.2.1", 1))
    assert len(app.buckets) == 1


async def test_a_partly_empty_bucket_survives_the_sweep() -> None:
    clock = Clock()
    app = limited(clock, per_minute=60, burst=3)
    for _ in range(3):
        await hit(app, client=("10.0.0.1", 1))
    clock.now += 2.0  # two tokens back out of three
    await hit(app, client=("10.0.0.2", 1))
    assert len(app.buckets) == 2
    assert [(await hit(app, client=("10.0.0.1", 1))).status_code for _ in range(3)] == [200, 200, 429]


async def test_the_number_of_buckets_is_bounded() -> None:
    clock = Clock()
    app = limited(clock, per_minute=1, burst=1, max_keys=10)  # refills in an hour: no sweep helps
    for i in range(100):
        assert (await hit(app, client=(f"10.0.3.{i}", 1))).status_code == 200
        assert len(app.buckets) <= 10
    assert (await hit(app, client=("10.0.3.99", 1))).status_code == 429  # the recent ones are kept


async def test_a_websocket_counts_once_per_connect() -> None:
    calls: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])

    app = RateLimit(inner, per_minute=60, burst=1, clock=Clock())

    async def connect(extensions: dict[str, Any]) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "websocket.connect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        scope = {
            "type": "websocket",
            "path": "/graphql",
            "headers": [],
            "client": ("10.0.0.1", 1),
            "extensions": extensions,
        }
        await app(scope, receive, send)
        return sent

    assert await connect({}) == [] and calls == ["websocket"]
    denied = await connect({"websocket.http.response": {}})
    assert denied[0]["type"] == "websocket.http.response.start" and denied[0]["status"] == 429
    assert dict(denied[0]["headers"])[b"retry-after"] == b"1"
    closed = await connect({})
    assert closed == [{"type": "websocket.close", "code": 1008, "reason": "rate limited"}]
    assert calls == ["websocket"]


async def test_lifespan_passes_through() -> None:
    seen: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope["type"])

    app = RateLimit(inner, per_minute=60, burst=1)
    for _ in range(3):
        await app({"type": "lifespan"}, None, None)  # type: ignore[arg-type]
    assert seen == ["lifespan"] * 3


async def test_works_as_starlette_middleware() -> None:
    app = Starlette(routes=ROUTES, middleware=[Middleware(RateLimit, per_minute=60, burst=1, clock=Clock())])
    assert (await hit(app)).status_code == 200
    assert (await hit(app)).status_code == 429
    assert (await hit(app, "/healthz")).status_code == 200
