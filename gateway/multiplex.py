"""The gateway's subscriptions to the subgraphs, many over one ``graphql-transport-ws`` connection.

A client subscription whose root field a subgraph owns becomes one operation (an id of the
gateway's choosing) on a connection to that subgraph shared with the other subscriptions of the
same caller. The connection is opened by the first of them and closed ``idle_seconds`` after the
last one ends (a client that completes and subscribes again, to change a filter, finds it open).

Shared per caller, not per subgraph alone: a subgraph learns who is asking from the internal
token in the ``Authorization`` header of the WebSocket handshake, once per connection (strawberry
builds a connection's context once), and filters what it sends by it (events sends a change of an
activity not yet announced only to those who may act on it). Two callers' operations on one
connection would both run as whoever opened it; so a connection serves one identity (subject,
roles and scope alike: the key is the whole :class:`Identity`), over every client socket of it,
and the anonymous callers share one per subgraph. The internal token of the handshake is fresh
when the connection opens; the subgraph does not look at it again, and the client side of the
gateway ends each client socket when its own token expires.

Every message the subgraph sends is routed by its id to the one operation it belongs to; a
client's ``complete`` sends ``complete`` for its own operation only. When the connection drops,
every operation on it ends with :class:`SubgraphUnavailable` (the client gets an ``error``), and
the next subscription opens a new one. An operation whose client does not keep up (more than
``max_pending`` events waiting) ends with :class:`FellBehind` instead of holding events without
bound, and the others on the connection go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson
import websockets
from setka_runtime.access import Identity
from websockets.asyncio.client import ClientConnection

from .federation.transport import SubgraphUnavailable

log = logging.getLogger(__name__)

PROTOCOL = "graphql-transport-ws"
IDLE_SECONDS = 5.0
OPEN_TIMEOUT_SECONDS = 10.0
MAX_PENDING = 1000
"""Events of one operation received and not yet passed on: past that its client has fallen behind."""

Key = tuple[str, Identity]
Headers = Callable[[], dict[str, str]]


class UpstreamErrors(Exception):
    """The subgraph ended the operation with an ``error`` message: its GraphQL errors."""

    def __init__(self, errors: Any) -> None:
        super().__init__("the subgraph refused the subscription")
        self.errors = errors if isinstance(errors, list) else [{"message": "Unexpected error."}]


class FellBehind(Exception):
    """The client did not take the operation's events as fast as they came."""


_DROPPED = object()
_BEHIND = object()


def _dumps(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def _retrieved(task: asyncio.Future[Any]) -> None:
    """Mark a connection attempt's failure seen: its subscribers may all have given up waiting."""
    if not task.cancelled():
        task.exception()


class Upstreams:
    """The open connections to the subgraphs, by (subgraph, caller); one per gateway process."""

    def __init__(
        self,
        *,
        idle_seconds: float = IDLE_SECONDS,
        open_timeout: float = OPEN_TIMEOUT_SECONDS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.idle_seconds = max(0.0, idle_seconds)
        self.open_timeout = open_timeout
        self.max_pending = max(1, max_pending)
        self.connections: dict[Key, _Upstream] = {}
        self.opened = 0
        """Connections opened so far (a number to read in tests and when debugging)."""

    @contextlib.asynccontextmanager
    async def subscribe(
        self, graph: str, url: str, identity: Identity, headers: Headers, payload: dict[str, Any]
    ) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        """Subscribe with ``payload`` on the caller's connection to ``graph`` (opened if there is
        none); yields the results (the ``payload`` of each ``next``). Leaving the block ends the
        operation upstream unless the subgraph has ended it."""
        key = (graph, identity)
        upstream = self.connections.get(key)
        if upstream is None or upstream.closing:
            upstream = self.connections[key] = _Upstream(self, key, url, headers)
        operation = upstream.add()
        try:
            await operation.start(payload)
            yield operation.results()
        finally:
            operation.release()

    def forget(self, upstream: _Upstream) -> None:
        if self.connections.get(upstream.key) is upstream:
            del self.connections[upstream.key]

    async def close(self) -> None:
        """Close every connection (the operations on them end as if it had dropped)."""
        for upstream in list(self.connections.values()):
            await upstream.close()


class _Upstream:
    """One connection to a subgraph and the operations on it."""

    def __init__(self, pool: Upstreams, key: Key, url: str, headers: Headers) -> None:
        self.pool = pool
        self.key = key
        self.graph = key[0]
        self.url = url
        self.headers = headers
        self.operations: dict[str, _Operation] = {}
        self.ids = itertools.count(1)
        self.socket: ClientConnection | None = None
        self.connecting: asyncio.Task[ClientConnection] | None = None
        self.reader: asyncio.Task[None] | None = None
        self.idle: asyncio.TimerHandle | None = None
        self.closing = False
        self.tasks: set[asyncio.Task[Any]] = set()

    def add(self) -> _Operation:
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
        operation = _Operation(self, str(next(self.ids)))
        self.operations[operation.ident] = operation
        return operation

    def remove(self, operation: _Operation) -> None:
        self.operations.pop(operation.ident, None)
        if not self.operations and not self.closing:
            if self.idle is not None:
                self.idle.cancel()
            self.idle = asyncio.get_running_loop().call_later(self.pool.idle_seconds, self._idle)

    def _idle(self) -> None:
        self.idle = None
        if not self.operations and not self.closing:
            self._background(self.close())

    def _background(self, awaitable: Any) -> None:
        task = asyncio.ensure_future(awaitable)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def connection(self) -> ClientConnection:
        """The open connection, opened (once, whoever waits for it) on first use."""
        if self.closing:
            raise SubgraphUnavailable(self.graph)
        if self.connecting is None:
            self.connecting = asyncio.ensure_future(self._open())
            self.connecting.add_done_callback(_retrieved)
        try:
            # shielded: a subscriber that gives up waiting does not stop the others' connection
            return await asyncio.shield(self.connecting)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if self.connecting.cancelled() and not (current and current.cancelling()):
                raise SubgraphUnavailable(self.graph) from None  # closed while it was opening
            raise

    async def _open(self) -> ClientConnection:
        try:
            socket = await self._handshake()
        except BaseException:
            self._closed()
            raise
        self.pool.opened += 1
        self.socket = socket
        self.reader = asyncio.create_task(self._read(socket))
        return socket

    async def _handshake(self) -> ClientConnection:
        try:
            socket = await websockets.connect(
                self.url,
                subprotocols=[PROTOCOL],  # type: ignore[list-item]
                open_timeout=self.pool.open_timeout,
                additional_headers=self.headers(),
            )
        except (OSError, websockets.WebSocketException, TimeoutError) as exc:
            log.warning("subscriptions: could not connect to %s at %s: %r", self.graph, self.url, exc)
            raise SubgraphUnavailable(self.graph) from exc
        try:
            await socket.send(_dumps({"type": "connection_init", "payload": {}}))
            async with asyncio.timeout(self.pool.open_timeout):
                while True:
                    message = orjson.loads(await socket.recv())
                    kind = message.get("type") if isinstance(message, dict) else None
                    if kind == "connection_ack":
                        return socket
                    if kind == "ping":
                        await socket.send(_dumps({"type": "pong"}))
                    elif kind != "pong":
                        raise ValueError(f"{kind!r} before connection_ack")
        except (websockets.WebSocketException, TimeoutError, ValueError) as exc:
            log.warning("subscriptions: %s did not acknowledge the connection: %r", self.graph, exc)
            await socket.close()
            raise SubgraphUnavailable(self.graph) from exc
        except BaseException:
            await socket.close()
            raise

    async def _read(self, socket: ClientConnection) -> None:
        try:
            async for raw in socket:
                message = orjson.loads(raw)
                if not isinstance(message, dict):
                    raise ValueError("a message that is not an object")
                kind = message.get("type")
                if kind == "ping":
                    await socket.send(_dumps({"type": "pong"}))
                elif kind in ("next", "error", "complete"):
                    operation = self.operations.get(str(message.get("id")))
                    if operation is not None:
                        operation.deliver(message)
        except websockets.ConnectionClosed:
            pass
        except (orjson.JSONDecodeError, ValueError) as exc:
            log.warning("subscriptions: %s sent an invalid message: %r", self.graph, exc)
            await socket.close(code=4400, reason="Invalid message")
        finally:
            if not self.closing:
                log.warning("subscriptions: the connection to %s dropped", self.graph)
            self._closed()

    def _closed(self) -> None:
        """The connection is gone: nothing more goes on it, and each operation left ends."""
        self.closing = True
        self.pool.forget(self)
        if self.idle is not None:
            self.idle.cancel()
            self.idle = None
        for operation in list(self.operations.values()):
            operation.dropped()

    async def close(self) -> None:
        self.closing = True
        self.pool.forget(self)
        if self.connecting is not None and not self.connecting.done():
            self.connecting.cancel()
        if self.socket is not None:
            await self.socket.close()
        if self.reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.reader
        self._closed()

    def send_soon(self, message: dict[str, Any]) -> None:
        """Send without waiting (from a subscriber being cancelled, which may not wait)."""
        socket = self.socket
        if socket is None or self.closing:
            return

        async def send() -> None:
            with contextlib.suppress(websockets.ConnectionClosed):
                await socket.send(_dumps(message))

        self._background(send())


class _Operation:
    """One subscription on an upstream connection."""

    def __init__(self, upstream: _Upstream, ident: str) -> None:
        self.upstream = upstream
        self.ident = ident
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self.started = False
        self.ended = False
        """No more messages come for it: the subgraph ended it, the connection dropped, or its
        client fell behind."""

    async def start(self, payload: dict[str, Any]) -> None:
        socket = await self.upstream.connection()
        if self.ended:  # the connection dropped while this waited for it
            raise SubgraphUnavailable(self.upstream.graph)
        try:
            await socket.send(_dumps({"id": self.ident, "type": "subscribe", "payload": payload}))
        except websockets.ConnectionClosed as exc:
            raise SubgraphUnavailable(self.upstream.graph) from exc
        self.started = True

    def deliver(self, message: dict[str, Any]) -> None:
        if self.ended:
            return
        if message["type"] in ("error", "complete"):
            self.ended = True
            self.queue.put_nowait(message)
        elif self.queue.qsize() >= self.upstream.pool.max_pending:
            self.queue.put_nowait(_BEHIND)
            self.ended = True
            self.upstream.send_soon({"id": self.ident, "type": "complete"})
        else:
            self.queue.put_nowait(message)

    def dropped(self) -> None:
        if not self.ended:
            self.ended = True
            self.queue.put_nowait(_DROPPED)

    async def results(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            item = await self.queue.get()
            if item is _DROPPED:
                raise SubgraphUnavailable(self.upstream.graph)
            if item is _BEHIND:
                raise FellBehind
            kind = item["type"]
            if kind == "complete":
                return
            if kind == "error":
                raise UpstreamErrors(item.get("payload"))
            payload = item.get("payload")
            yield payload if isinstance(payload, dict) else {}

    def release(self) -> None:
        """The subscriber is done: stop the operation upstream unless it has ended."""
        if self.started and not self.ended:
            self.ended = True
            self.upstream.send_soon({"id": self.ident, "type": "complete"})
        self.upstream.remove(self)
