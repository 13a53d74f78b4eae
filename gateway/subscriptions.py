"""Subscriptions through the gateway over ``graphql-transport-ws``.

A client's subscription is planned like any operation; its root field goes to the owning
subgraph as one operation on the ``graphql-transport-ws`` connection the gateway shares among
that caller's subscriptions to that subgraph (:mod:`gateway.multiplex`), and every event that
comes back is completed with the fields other subgraphs own (entity fetches) before it is passed
on. Queries and mutations sent over the socket are answered once and completed, as the protocol
allows.

What one caller may hold, in this process (:class:`Limits`): a caller is the subject of its token,
or, signed out, its client address (as the rate limit counts it). Past ``max_sockets`` open
connections a new one is closed with 4429 once it has said who it is (``connection_init``); past
``max_subscriptions`` running subscriptions a ``subscribe`` is answered with an ``error``
(``TOO_MANY_SUBSCRIPTIONS``) and the socket stays open. One connection runs at most
``max_operations`` operations (``TOO_MANY_OPERATIONS``) and may send ``messages_per_second``
messages on average, ``message_burst`` at once; a connection that sends faster is closed with
4429: a client that floods is broken or hostile, and every message it sends costs the gateway
parsing and planning whether or not it is then refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any

import jwt
import orjson
from setka_runtime.access import ANONYMOUS, Identity
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from .auth import Authenticator, AuthError
from .federation.engine import Engine, Prepared, RequestError
from .federation.executor import Run, root_document
from .federation.transport import SubgraphUnavailable
from .http import DocumentRefused, HttpOptions, document_text, upstream_headers
from .multiplex import IDLE_SECONDS, FellBehind, UpstreamErrors, Upstreams
from .ratelimit import PRIVATE_PROXIES, Network, TokenBuckets, client_address, networks

log = logging.getLogger(__name__)

PROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT_SECONDS = 10
MAX_OPERATIONS = 20
"""Operations one connection may run at once."""


@dataclass(frozen=True)
class Limits:
    """What one caller may hold and send; a bound ≤ 0 is no bound."""

    max_operations: int = MAX_OPERATIONS
    max_subscriptions: int = 50
    """Subscriptions one caller runs at once over all its connections."""
    max_sockets: int = 10
    """Connections one caller holds open at once."""
    messages_per_second: float = 10.0
    message_burst: int = 50
    trusted_proxies: tuple[Network, ...] = ()
    """Whose ``X-Forwarded-For`` names the client (an anonymous caller is its address)."""
    upstream_idle_seconds: float = IDLE_SECONDS

    @classmethod
    def of(cls, settings: Any, *, max_operations: int | None = None) -> Limits:
        """The limits ``GatewaySettings`` set."""
        return cls(
            max_operations=settings.max_operations_per_socket if max_operations is None else max_operations,
            max_subscriptions=settings.max_subscriptions_per_identity,
            max_sockets=settings.max_sockets_per_identity,
            messages_per_second=settings.socket_messages_per_second,
            message_burst=settings.socket_message_burst,
            trusted_proxies=networks(settings.trusted_proxies)
            or (PRIVATE_PROXIES if settings.trust_forwarded else ()),
            upstream_idle_seconds=settings.subscription_upstream_idle_seconds,
        )


class Callers:
    """Connections and subscriptions by caller, in this process."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.sockets: Counter[str] = Counter()
        self.subscriptions: Counter[str] = Counter()

    @staticmethod
    def _take(counter: Counter[str], key: str, bound: int) -> bool:
        if 0 < bound <= counter[key]:
            return False
        counter[key] += 1
        return True

    @staticmethod
    def _give_back(counter: Counter[str], key: str) -> None:
        counter[key] -= 1
        if counter[key] <= 0:
            del counter[key]

    def open_socket(self, key: str) -> bool:
        return self._take(self.sockets, key, self.limits.max_sockets)

    def close_socket(self, key: str) -> None:
        self._give_back(self.sockets, key)

    def start_subscription(self, key: str) -> bool:
        return self._take(self.subscriptions, key, self.limits.max_subscriptions)

    def end_subscription(self, key: str) -> None:
        self._give_back(self.subscriptions, key)


class SubscriptionEndpoint:
    """The WebSocket side of ``/graphql``, held to the HTTP side's rules: the same documents
    (persisted-only mode included), the same token, which ends the connection when it expires
    (4401), and bounds on what one connection and one caller run and send.

    Without ``limits``, those of the authenticator's settings (the gateway's) apply, with
    ``max_operations`` if it is given."""

    def __init__(
        self,
        engine: Engine,
        authenticator: Authenticator,
        options: HttpOptions | None = None,
        *,
        max_operations: int | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.engine = engine
        self.authenticator = authenticator
        self.options = options or HttpOptions()
        self.limits = limits or Limits.of(authenticator.settings, max_operations=max_operations)
        self.max_operations = self.limits.max_operations
        self.callers = Callers(self.limits)
        self.upstreams = Upstreams(idle_seconds=self.limits.upstream_idle_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        socket = WebSocket(scope, receive, send)
        offered = scope.get("subprotocols") or []
        if PROTOCOL not in offered:
            await socket.close(code=4406, reason="Subprotocol not acceptable")
            return
        await socket.accept(subprotocol=PROTOCOL)
        await _Connection(self, socket).serve()


class _Connection:
    def __init__(self, endpoint: SubscriptionEndpoint, socket: WebSocket) -> None:
        self.engine = endpoint.engine
        self.authenticator = endpoint.authenticator
        self.options = endpoint.options
        self.max_operations = endpoint.max_operations
        self.limits = endpoint.limits
        self.callers = endpoint.callers
        self.upstreams = endpoint.upstreams
        self.socket = socket
        self.identity: Identity | None = None
        self.caller_key: str | None = None
        """Whom the per-caller limits count this connection against, once it is counted."""
        self.messages = (
            TokenBuckets(
                rate=self.limits.messages_per_second,
                capacity=float(max(1, self.limits.message_burst)),
                clock=time.monotonic,
                max_keys=1,
            )
            if self.limits.messages_per_second > 0
            else None
        )
        self.expires_at: float | None = None
        """When the caller's token expires (``exp``): the connection ends then."""
        self.running: dict[str, asyncio.Task[None]] = {}
        self.send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.socket.send_text(orjson.dumps(message).decode())

    async def serve(self) -> None:
        try:
            await self._serve()
        finally:
            for task in self.running.values():
                task.cancel()
            self._uncount()

    async def _serve(self) -> None:
        try:
            await asyncio.wait_for(self._initialise(), INIT_TIMEOUT_SECONDS)
        except TimeoutError:
            await self.socket.close(code=4408, reason="Connection initialisation timeout")
            return
        except (WebSocketDisconnect, _Closed):
            return
        expiry = asyncio.create_task(self._close_on_expiry()) if self.expires_at is not None else None
        try:
            while True:
                message = await self._receive()
                if message is None:
                    return
                if self.messages is not None and self.messages.take("") > 0:
                    await self.socket.close(code=4429, reason="Too many requests")
                    return
                kind = message.get("type")
                if kind == "ping":
                    await self.send({"type": "pong"})
                elif kind == "pong":
                    continue
                elif kind == "subscribe":
                    await self._subscribe(message)
                elif kind == "complete":
                    task = self.running.pop(str(message.get("id")), None)
                    if task:
                        task.cancel()
                elif kind == "connection_init":
                    await self.socket.close(code=4429, reason="Too many initialisation requests")
                    return
                else:
                    await self.socket.close(code=4400, reason=f"Unexpected message type {kind!r}")
                    return
        except (WebSocketDisconnect, _Closed):
            return
        finally:
            if expiry is not None:
                expiry.cancel()

    def _uncount(self) -> None:
        if self.caller_key is not None:
            self.callers.close_socket(self.caller_key)
            self.caller_key = None

    async def _close_on_expiry(self) -> None:
        """A token that expires ends the connection, as it would end every HTTP request."""
        assert self.expires_at is not None
        await asyncio.sleep(max(0.0, self.expires_at - time.time()))
        for task in self.running.values():
            task.cancel()
        with contextlib.suppress(Exception):
            await self.socket.close(code=4401, reason="Token expired")

    async def _receive(self) -> dict[str, Any] | None:
        try:
            text = await self.socket.receive_text()
        except WebSocketDisconnect:
            return None
        try:
            message = orjson.loads(text)
        except orjson.JSONDecodeError:
            await self.socket.close(code=4400, reason="Invalid message")
            raise _Closed from None
        if not isinstance(message, dict):
            await self.socket.close(code=4400, reason="Invalid message")
            raise _Closed
        return message

    async def _initialise(self) -> None:
        message = await self._receive()
        if message is None:
            raise _Closed
        if message.get("type") != "connection_init":
            await self.socket.close(code=4401, reason="Unauthorized")
            raise _Closed
        payload = message.get("payload") or {}
        authorization = None
        if isinstance(payload, dict):
            authorization = payload.get("Authorization") or payload.get("authorization")
        authorization = authorization or self.socket.headers.get("authorization")
        try:
            self.identity = await self.authenticator.identify(
                authorization if isinstance(authorization, str) else None
            )
        except AuthError:
            await self.socket.close(code=4403, reason="Forbidden")
            raise _Closed from None
        if self.identity.authenticated and isinstance(authorization, str):
            self.expires_at = _expiry(authorization)
        key = (
            f"sub:{self.identity.subject}"
            if self.identity.authenticated
            else f"address:{client_address(self.socket.scope, trusted=self.limits.trusted_proxies)}"
        )
        if not self.callers.open_socket(key):
            await self.socket.close(code=4429, reason="Too many requests: too many connections")
            raise _Closed
        self.caller_key = key
        await self.send({"type": "connection_ack"})

    async def _subscribe(self, message: dict[str, Any]) -> None:
        ident = message.get("id")
        payload = message.get("payload")
        if (
            not isinstance(ident, str)
            or not isinstance(payload, dict)
            or not isinstance(
                payload.get("query") or payload.get("documentId") or payload.get("extensions"), str | dict
            )
        ):
            await self.socket.close(code=4400, reason="Invalid subscribe message")
            raise _Closed
        if ident in self.running:
            await self.socket.close(code=4409, reason=f"Subscriber for {ident} already exists")
            raise _Closed
        if len(self.running) >= self.max_operations:
            message = f"At most {self.max_operations} operations run at once on one connection"
            error = {"message": message, "extensions": {"code": "TOO_MANY_OPERATIONS"}}
            await self.send({"id": ident, "type": "error", "payload": [error]})
            return
        try:
            query = document_text(payload, self.options)
        except DocumentRefused as exc:
            error = {"message": str(exc), "extensions": {"code": "PERSISTED_QUERY_REQUIRED"}}
            await self.send({"id": ident, "type": "error", "payload": [error]})
            return
        variables = payload.get("variables") or {}
        try:
            prepared = await self.engine.prepare_off_loop(query, payload.get("operationName"))
            self.engine.variables(prepared, variables)
        except RequestError as exc:
            await self.send({"id": ident, "type": "error", "payload": exc.errors})
            return
        refused = self.engine.refused(prepared, self.caller)
        if refused:
            errors = [{"message": r.message, "extensions": {"code": r.code}} for r in refused]
            await self.send({"id": ident, "type": "error", "payload": errors})
            return
        counted = self.caller_key if prepared.kind == "subscription" else None
        if counted is not None and not self.callers.start_subscription(counted):
            bound = self.limits.max_subscriptions
            error = {
                "message": f"At most {bound} subscriptions run at once for one caller",
                "extensions": {"code": "TOO_MANY_SUBSCRIPTIONS"},
            }
            await self.send({"id": ident, "type": "error", "payload": [error]})
            return
        task = asyncio.create_task(self._run(ident, prepared, query, variables))
        self.running[ident] = task

        def ended(_: asyncio.Task[None]) -> None:
            if self.running.get(ident) is task:
                del self.running[ident]
            if counted is not None:
                self.callers.end_subscription(counted)

        task.add_done_callback(ended)

    async def _run(self, ident: str, prepared: Prepared, query: str, variables: dict[str, Any]) -> None:
        try:
            if prepared.kind != "subscription":
                if prepared.kind == "mutation":
                    await self.send(
                        {"id": ident, "type": "error", "payload": [{"message": "Send mutations over HTTP"}]}
                    )
                    return
                body = await self.engine.execute(prepared, query, variables, self._headers())
                await self.send({"id": ident, "type": "next", "payload": orjson.loads(body)})
            else:
                await self._stream(ident, prepared, variables)
            await self.send({"id": ident, "type": "complete"})
        except asyncio.CancelledError:
            raise
        except SubgraphUnavailable as exc:
            error = {
                "message": str(exc),
                "extensions": {"code": "SUBGRAPH_UNAVAILABLE", "service": exc.service},
            }
            with contextlib.suppress(Exception):
                await self.send({"id": ident, "type": "error", "payload": [error]})
        except UpstreamErrors as exc:
            with contextlib.suppress(Exception):
                await self.send({"id": ident, "type": "error", "payload": exc.errors})
        except FellBehind:
            error = {
                "message": "The subscription's events came faster than they were read",
                "extensions": {"code": "SUBSCRIPTION_FELL_BEHIND"},
            }
            with contextlib.suppress(Exception):
                await self.send({"id": ident, "type": "error", "payload": [error]})
        except Exception:
            log.exception("subscription %s failed", ident)
            with contextlib.suppress(Exception):
                await self.send({"id": ident, "type": "error", "payload": [{"message": "Unexpected error."}]})

    async def _stream(self, ident: str, prepared: Prepared, variables: dict[str, Any]) -> None:
        plan = prepared.plan
        fetch = plan.steps[0][0]
        coerced = self.engine.variables(prepared, variables)
        url = self.engine.subgraphs.urls[fetch.graph].replace("http", "ws", 1)
        payload = {
            "query": root_document(plan.operation, fetch),
            "variables": {name: variables[name] for name in fetch.variables if name in variables},
        }
        async with self.upstreams.subscribe(fetch.graph, url, self.caller, self._headers, payload) as results:
            async for result in results:
                run = Run(plan=plan, raw_variables=variables, headers=self._headers())
                run.data = result.get("data") or {}
                run.errors.extend(result.get("errors") or [])
                await self.engine.executor.run_from(run, [fetch])
                outcome = self.engine.executor.shape(run, coerced)
                await self.send({"id": ident, "type": "next", "payload": outcome.body()})

    @property
    def caller(self) -> Identity:
        return self.identity or ANONYMOUS

    def _headers(self) -> dict[str, str]:
        """For each call to a subgraph, a fresh internal token (a subscription outlives one)."""
        return upstream_headers(self.authenticator, self.caller)


def _expiry(authorization: str) -> float | None:
    """The ``exp`` of a bearer token the authenticator has just accepted."""
    token = authorization.strip().partition(" ")[2].strip()
    try:
        expires = jwt.decode(token, options={"verify_signature": False}).get("exp")
    except jwt.PyJWTError:
        return None
    return float(expires) if isinstance(expires, int | float) and not isinstance(expires, bool) else None


class _Closed(Exception):
    pass
