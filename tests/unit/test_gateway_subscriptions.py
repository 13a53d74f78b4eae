"""Subscriptions through the gateway: per-caller limits, a per-connection message rate, and one
upstream connection per subgraph and caller shared by that caller's subscriptions.

Real servers on loopback sockets: the gateway (``create_app``) and, in place of the events
subgraph, a small strawberry service that owns ``activityChanges`` and counts the WebSocket
connections it is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import strawberry
import uvicorn
import websockets
from setka_runtime.access import ANONYMOUS
from setka_runtime.local_broker import free_port
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from websockets.asyncio.client import ClientConnection

from gateway.app import create_app
from gateway.auth import issue_token
from gateway.multiplex import FellBehind, UpstreamErrors, Upstreams
from gateway.settings import GatewaySettings
from tests.helpers import served

pytestmark = pytest.mark.unit

FOLLOW = "subscription($n: ID) { activityChanges(networkId: $n) { kind eventId } }"
WAIT = 10.0


# -- a stand-in for the events subgraph -------------------------------------------------------------


@dataclass
class Hub:
    """The stand-in's state: a queue per network followed, and what started and ended."""

    listeners: dict[str, asyncio.Queue[str]] = field(default_factory=dict)
    started: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    opened: int = 0
    """WebSocket connections accepted so far."""
    open: int = 0
    authorizations: list[str | None] = field(default_factory=list)

    async def publish(self, network: str, kind: str) -> None:
        for _ in range(int(WAIT / 0.02)):
            if network in self.listeners:
                break
            await asyncio.sleep(0.02)
        self.listeners[network].put_nowait(kind)


@strawberry.type
class ActivityChange:
    kind: str
    event_id: strawberry.ID


@strawberry.type
class Query:
    @strawberry.field
    def ok(self) -> bool:
        return True


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def activity_changes(
        self, info: strawberry.Info, network_id: strawberry.ID | None = None
    ) -> AsyncGenerator[ActivityChange, None]:
        hub: Hub = info.context["hub"]
        network = str(network_id)
        queue: asyncio.Queue[str] = asyncio.Queue()
        hub.listeners[network] = queue
        hub.started.append(network)
        try:
            count = 0
            while True:
                kind = await queue.get()
                count += 1
                yield ActivityChange(kind=kind, event_id=strawberry.ID(f"{network}-{count}"))
        finally:
            hub.listeners.pop(network, None)
            hub.ended.append(network)


SCHEMA = strawberry.Schema(query=Query, subscription=Subscription)


class Subgraph(GraphQL[Any, Any]):
    def __init__(self, hub: Hub) -> None:
        super().__init__(SCHEMA, subscription_protocols=[GRAPHQL_TRANSPORT_WS_PROTOCOL])
        self.hub = hub

    async def get_context(self, request: Any, response: Any = None) -> Any:
        return {"hub": self.hub}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            self.hub.opened += 1
            self.hub.open += 1
            headers = dict(scope["headers"])
            self.hub.authorizations.append(
                headers[b"authorization"].decode() if b"authorization" in headers else None
            )
            try:
                await super().__call__(scope, receive, send)
            finally:
                self.hub.open -= 1
        else:
            await super().__call__(scope, receive, send)


@dataclass
class Upstream:
    hub: Hub
    url: str
    server: uvicorn.Server

    def drop(self) -> None:
        """Cut every connection the subgraph has, without a closing handshake (a crash)."""
        for connection in list(self.server.server_state.connections):
            transport = getattr(connection, "transport", None)
            if transport is not None:
                transport.abort()


@contextlib.asynccontextmanager
async def subgraph() -> AsyncIterator[Upstream]:
    hub = Hub()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Subgraph(hub),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            lifespan="off",
            ws="websockets-sansio",
        )
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield Upstream(hub, f"http://127.0.0.1:{port}/graphql", server)
    finally:
        server.should_exit = True
        await task


# -- the gateway in front of it ----------------------------------------------------------------------


@contextlib.asynccontextmanager
async def gateway(upstream: Upstream, **overrides: Any) -> AsyncIterator[str]:
    settings = GatewaySettings(
        registry_url="http://127.0.0.1:9/graphql",
        analytics_url="http://127.0.0.1:9/graphql",
        events_url=upstream.url,
        rate_limit_per_minute=0,
        **{"subscription_upstream_idle_seconds": 0.2, **overrides},
    )
    app = create_app(settings)
    async with served(app) as base:
        yield base.replace("http", "ws", 1) + "/graphql"


def token(subject: str) -> str:
    return issue_token(GatewaySettings(), subject=subject, roles=["viewer"], ttl_seconds=600)


async def receive(socket: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(socket.recv(), WAIT))


@contextlib.asynccontextmanager
async def client(url: str, bearer: str | None = None) -> AsyncIterator[ClientConnection]:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as socket:  # type: ignore[list-item]
        payload = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert (await receive(socket))["type"] == "connection_ack"
        yield socket


async def follow(socket: ClientConnection, ident: str, network: str) -> None:
    message = {"id": ident, "type": "subscribe", "payload": {"query": FOLLOW, "variables": {"n": network}}}
    await socket.send(json.dumps(message))


async def change(socket: ClientConnection, ident: str) -> dict[str, Any]:
    message = await receive(socket)
    assert message["id"] == ident and message["type"] == "next", message
    return message["payload"]["data"]["activityChanges"]


async def until(condition: Any) -> None:
    for _ in range(int(WAIT / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("not within the wait")


# -- one upstream connection per subgraph and caller -------------------------------------------------


async def test_a_callers_subscriptions_share_one_upstream_connection() -> None:
    async with subgraph() as upstream, gateway(upstream) as url:
        hub = upstream.hub
        async with client(url, token("alice")) as first, client(url, token("alice")) as second:
            await follow(first, "1", "n1")
            await follow(first, "2", "n2")
            await follow(second, "1", "n3")
            for network in ("n3", "n1", "n2"):
                await hub.publish(network, f"planned in {network}")
            # each event reaches the one client subscription it belongs to
            assert await change(second, "1") == {"kind": "planned in n3", "eventId": "n3-1"}
            assert {(await receive(first))["id"] for _ in range(2)} == {"1", "2"}
            assert hub.opened == 1, "three subscriptions of one caller, one connection to the subgraph"

            # a client's complete stops its own operation upstream, and only that one
            await first.send(json.dumps({"id": "1", "type": "complete"}))
            await until(lambda: hub.ended == ["n1"])
            await hub.publish("n2", "announced")
            assert await change(first, "2") == {"kind": "announced", "eventId": "n2-2"}
            await hub.publish("n3", "announced")
            assert await change(second, "1") == {"kind": "announced", "eventId": "n3-2"}

            # another caller is another identity upstream: a connection of its own
            async with client(url, token("bob")) as other:
                await follow(other, "1", "n4")
                await hub.publish("n4", "held")
                assert await change(other, "1") == {"kind": "held", "eventId": "n4-1"}
            assert hub.opened == 2
            assert len(set(hub.authorizations)) == 2 and None not in hub.authorizations

            await first.send(json.dumps({"id": "2", "type": "complete"}))
            await second.send(json.dumps({"id": "1", "type": "complete"}))
            # the last subscription ended: the connection closes once it has been idle a moment
            await until(lambda: hub.open == 0)
            assert sorted(hub.ended) == ["n1", "n2", "n3", "n4"]

            # and the next subscription opens one again
            await follow(first, "3", "n5")
            await hub.publish("n5", "planned")
            assert await change(first, "3") == {"kind": "planned", "eventId": "n5-1"}
            assert hub.opened == 3


async def test_a_dropped_upstream_connection_ends_each_subscription_on_it_with_an_error() -> None:
    async with subgraph() as upstream, gateway(upstream) as url:
        hub = upstream.hub
        async with client(url, token("alice")) as first, client(url, token("alice")) as second:
            await follow(first, "1", "n1")
            await follow(second, "7", "n2")
            for network, socket, ident in (("n1", first, "1"), ("n2", second, "7")):
                await hub.publish(network, "planned")
                await change(socket, ident)
            assert hub.opened == 1

            upstream.drop()

            for socket, ident in ((first, "1"), (second, "7")):
                message = await receive(socket)  # an error, not a wait for ever
                assert message["id"] == ident and message["type"] == "error", message
                assert message["payload"][0]["extensions"]["code"] == "SUBGRAPH_UNAVAILABLE"
            # the client's socket stays open, and a new subscription gets a new upstream connection
            await follow(first, "2", "n3")
            await hub.publish("n3", "announced")
            assert await change(first, "2") == {"kind": "announced", "eventId": "n3-1"}
            assert hub.opened == 2


async def test_an_error_or_a_slow_reader_ends_one_operation_and_not_its_neighbours() -> None:
    async with subgraph() as upstream:
        hub = upstream.hub
        pool = Upstreams(idle_seconds=0, max_pending=2)
        url = upstream.url.replace("http", "ws", 1)

        def payload(network: str) -> dict[str, Any]:
            return {"query": FOLLOW, "variables": {"n": network}}

        def no_headers() -> dict[str, str]:
            return {}

        async with (
            pool.subscribe("events", url, ANONYMOUS, no_headers, payload("slow")) as slow,
            pool.subscribe("events", url, ANONYMOUS, no_headers, payload("fast")) as fast,
        ):
            # the subgraph's error for one operation reaches that operation alone
            async with pool.subscribe("events", url, ANONYMOUS, no_headers, {"query": "{ nope }"}) as bad:
                with pytest.raises(UpstreamErrors) as refused:
                    await anext(bad)
            assert "nope" in refused.value.errors[0]["message"]

            for number in range(4):
                await hub.publish("slow", f"change {number}")
            await hub.publish("fast", "planned")
            assert (await anext(fast))["data"]["activityChanges"]["kind"] == "planned"
            # more than max_pending waited for "slow": it ends, upstream too, and "fast" goes on
            assert [(await anext(slow))["data"]["activityChanges"]["kind"] for _ in range(2)] == [
                "change 0",
                "change 1",
            ]
            with pytest.raises(FellBehind):
                await anext(slow)
            await until(lambda: hub.ended == ["slow"])
            await hub.publish("fast", "announced")
            assert (await anext(fast))["data"]["activityChanges"]["kind"] == "announced"
        assert pool.opened == 1
        await until(lambda: hub.open == 0)


# -- per-caller limits --------------------------------------------------------------------------------


async def test_a_caller_runs_a_bounded_number_of_subscriptions_over_all_its_sockets() -> None:
    async with subgraph() as upstream, gateway(upstream, max_subscriptions_per_identity=2) as url:
        hub = upstream.hub
        async with client(url, token("alice")) as first, client(url, token("alice")) as second:
            await follow(first, "1", "n1")
            await follow(second, "1", "n2")
            for network, socket in (("n1", first), ("n2", second)):
                await hub.publish(network, "planned")
                await change(socket, "1")

            await follow(second, "2", "n3")
            refused = await receive(second)
            assert refused["id"] == "2" and refused["type"] == "error", refused
            assert refused["payload"][0]["extensions"]["code"] == "TOO_MANY_SUBSCRIPTIONS"
            assert "n3" not in hub.started

            # the socket stays open; another caller is not held to alice's count
            await second.send(json.dumps({"type": "ping"}))
            assert (await receive(second))["type"] == "pong"
            async with client(url, token("bob")) as other:
                await follow(other, "1", "n4")
                await hub.publish("n4", "planned")
                await change(other, "1")

            # once one of alice's subscriptions ends, she may start another
            await first.send(json.dumps({"id": "1", "type": "complete"}))
            await until(lambda: "n1" in hub.ended)
            await follow(second, "3", "n5")
            await hub.publish("n5", "planned")
            assert await change(second, "3") == {"kind": "planned", "eventId": "n5-1"}


async def test_a_caller_holds_a_bounded_number_of_sockets() -> None:
    async with subgraph() as upstream, gateway(upstream, max_sockets_per_identity=2) as url:
        for bearer in (token("alice"), None):  # a signed-out caller counts by its address
            async with client(url, bearer), client(url, bearer) as second:
                async with websockets.connect(url, subprotocols=["graphql-transport-ws"]) as third:  # type: ignore[list-item]
                    payload = {"Authorization": f"Bearer {bearer}"} if bearer else {}
                    await third.send(json.dumps({"type": "connection_init", "payload": payload}))
                    with pytest.raises(websockets.ConnectionClosed) as closed:
                        await receive(third)
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
                await second.send(json.dumps({"type": "ping"}))
                assert (await receive(second))["type"] == "pong"
                if bearer:
                    async with client(url, token("bob")):
                        pass  # another caller's sockets are counted apart
            # the sockets were closed: they count no more
            async with client(url, bearer), client(url, bearer):
                pass


# -- the rate of one connection ------------------------------------------------------------------------


async def test_a_socket_that_sends_too_fast_is_closed() -> None:
    async with (
        subgraph() as upstream,
        gateway(upstream, socket_messages_per_second=1, socket_message_burst=5) as url,
        client(url, token("alice")) as socket,
    ):
        for _ in range(8):
            await socket.send(json.dumps({"type": "ping"}))
        pongs = 0
        with pytest.raises(websockets.ConnectionClosed) as closed:
            while True:
                assert (await receive(socket))["type"] == "pong"
                pongs += 1
        assert pongs == 5
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4429
