"""The WebSocket side of the gateway is held to the HTTP side's rules."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from gateway import subscriptions
from gateway.app import create_app
from gateway.auth import issue_token
from gateway.settings import GatewaySettings

pytestmark = pytest.mark.unit

PERSISTED = "query Known { __typename }"
DIGEST = hashlib.sha256(PERSISTED.encode()).hexdigest()


def settings(**overrides: Any) -> GatewaySettings:
    return GatewaySettings(registry_url="http://127.0.0.1:9/graphql", **overrides)


def subscribe(socket: Any, ident: str, payload: dict[str, Any]) -> dict[str, Any]:
    socket.send_text(json.dumps({"id": ident, "type": "subscribe", "payload": payload}))
    return json.loads(socket.receive_text())


def opened(client: TestClient, token: str | None = None) -> Any:
    socket = client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"])
    connection = socket.__enter__()
    init: dict[str, Any] = {"type": "connection_init"}
    if token:
        init["payload"] = {"Authorization": f"Bearer {token}"}
    connection.send_text(json.dumps(init))
    assert json.loads(connection.receive_text())["type"] == "connection_ack"
    return socket, connection


def test_persisted_only_mode_applies_over_websocket_too(tmp_path: Path) -> None:
    manifest = tmp_path / "persisted.json"
    manifest.write_text(json.dumps({f"sha256:{DIGEST}": PERSISTED}))
    app = create_app(settings(persisted_documents=manifest, persisted_only=True))
    with TestClient(app) as client:
        socket, connection = opened(client)
        try:
            refused = subscribe(connection, "1", {"query": "{ __typename }"})
            assert refused["type"] == "error"
            assert refused["payload"][0]["extensions"]["code"] == "PERSISTED_QUERY_REQUIRED"
            answered = subscribe(connection, "2", {"documentId": f"sha256:{DIGEST}"})
            assert answered == {"id": "2", "type": "next", "payload": {"data": {"__typename": "Query"}}}
        finally:
            socket.__exit__(None, None, None)


def test_the_connection_ends_when_the_token_expires() -> None:
    token = issue_token(settings(), subject="portal", roles=["viewer"], ttl_seconds=3)
    app = create_app(settings())
    with TestClient(app) as client:
        socket, connection = opened(client, token)
        started = time.monotonic()
        try:
            with pytest.raises(WebSocketDisconnect) as closed:
                connection.receive_text()  # nothing comes until the server closes
        finally:
            socket.__exit__(None, None, None)
    assert closed.value.code == 4401
    assert 0.5 < time.monotonic() - started < 10  # at the token's exp (whole seconds), not at once


def test_one_connection_runs_a_bounded_number_of_operations(monkeypatch: pytest.MonkeyPatch) -> None:
    async def forever(self: Any, *args: Any) -> None:
        import asyncio

        await asyncio.sleep(60)

    monkeypatch.setattr(subscriptions._Connection, "_run", forever)
    app = create_app(settings(max_operations_per_socket=2))
    with TestClient(app) as client:
        socket, connection = opened(client)
        try:
            for ident in ("1", "2"):
                connection.send_text(
                    json.dumps({"id": ident, "type": "subscribe", "payload": {"query": "{ __typename }"}})
                )
            third = subscribe(connection, "3", {"query": "{ __typename }"})
        finally:
            socket.__exit__(None, None, None)
    assert third["type"] == "error" and third["payload"][0]["extensions"]["code"] == "TOO_MANY_OPERATIONS"
