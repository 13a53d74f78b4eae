"""Subscriptions through the gateway over ``graphql-transport-ws``.

A client's subscription is planned like any operation; its root field goes to the owning
subgraph over its own ``graphql-transport-ws`` connection, and every event that comes back is
completed with the fields other subgraphs own (entity fetches) before it is passed on. Queries
and mutations sent over the socket are answered once and completed, as the protocol allows.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import jwt
import orjson
import websockets
from setka_runtime.access import ANONYMOUS, Identity
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket, WebSocketDisconnect

from .auth import Authenticator, AuthError
from .federation.engine import Engine, Prepared, RequestError
from .federation.executor import Run
from .federation.transport import SubgraphUnavailable
from .http import DocumentRefused, HttpOptions, document_text, upstream_headers

log = logging.getLogger(__name__)

PROTOCOL = "graphql-transport-ws"
INIT_TIMEOUT_SECONDS = 10
MAX_OPERATIONS = 20
"""Operations one connection may run at once: each subscription holds an upstream socket."""


class SubscriptionEndpoint:
    """The WebSocket side of ``/graphql``, held to the HTTP side's rules: the same documents
    (persisted-only mode included), the same token, which ends the connection when it expires
    (4401), and a bound on what one connection runs at once."""

    def __init__(
        self,
        engine: Engine,
        authenticator: Authenticator,
        options: HttpOptions | None = None,
        *,
        max_operations: int = MAX_OPERATIONS,
    ) -> None:
        self.engine = engine
        self.authenticator = authenticator
        self.options = options or HttpOptions()
        self.max_operations = max_operations

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
        self.socket = socket
        self.identity: Identity | None = None
        self.expires_at: float | None = None
        """When the caller's token expires (``exp``): the connection ends then."""
        self.running: dict[str, asyncio.Task[None]] = {}
        self.send_lock = asyncio.Lock()

    async def send(self, message: dict[str, Any]) -> None:
        async with self.send_lock:
            await self.socket.send_text(orjson.dumps(message).decode())

    async def serve(self) -> None:
        try:
            await asyncio.wait_for(self._initialise(), INIT_TIMEOUT_SECONDS)
        except TimeoutError:
            await self.socket.close(code=4408, reason="Connection initialisation timeout")
            return
        except _Closed:
            return
        expiry = asyncio.create_task(self._close_on_expiry()) if self.expires_at is not None else None
        try:
            while True:
                message = await self._receive()
                if message is None:
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
            for task in self.running.values():
                task.cancel()

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
        task = asyncio.create_task(self._run(ident, prepared, query, variables))
        self.running[ident] = task
        task.add_done_callback(lambda _: self.running.pop(ident, None))

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
            with contextlib.suppress(Exception):
                await self.send({"id": ident, "type": "error", "payload": [{"message": str(exc)}]})
        except Exception:
            log.exception("subscription %s failed", ident)
            with contextlib.suppress(Exception):
                await self.send({"id": ident, "type": "error", "payload": [{"message": "Unexpected error."}]})

    async def _stream(self, ident: str, prepared: Prepared, variables: dict[str, Any]) -> None:
        plan = prepared.plan
        fetch = plan.steps[0][0]
        coerced = self.engine.variables(prepared, variables)
        url = self.engine.subgraphs.urls[fetch.graph].replace("http", "ws", 1)
        from .federation.executor import root_document

        document = root_document(plan.operation, fetch)
        try:
            upstream = await websockets.connect(
                url,
                subprotocols=[PROTOCOL],  # type: ignore[list-item]
                open_timeout=10,
                additional_headers=self._headers(),
            )
        except (OSError, websockets.WebSocketException, TimeoutError) as exc:
            raise SubgraphUnavailable(fetch.graph) from exc
        async with upstream:
            await upstream.send(orjson.dumps({"type": "connection_init", "payload": {}}).decode())
            ack = orjson.loads(await upstream.recv())
            if ack.get("type") != "connection_ack":
                raise SubgraphUnavailable(fetch.graph)
            sent_variables = {name: variables[name] for name in fetch.variables if name in variables}
            await upstream.send(
                orjson.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": document, "variables": sent_variables},
                    }
                ).decode()
            )
            async for raw in upstream:
                message = orjson.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await upstream.send(orjson.dumps({"type": "pong"}).decode())
                elif kind == "next":
                    result = message.get("payload") or {}
                    run = Run(plan=plan, raw_variables=variables, headers=self._headers())
                    run.data = result.get("data") or {}
                    run.errors.extend(result.get("errors") or [])
                    await self.engine.executor.run_from(run, [fetch])
                    outcome = self.engine.executor.shape(run, coerced)
                    await self.send({"id": ident, "type": "next", "payload": outcome.body()})
                elif kind == "error":
                    await self.send({"id": ident, "type": "error", "payload": message.get("payload")})
                    return
                elif kind == "complete":
                    return

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
