"""A portal follows a network's activities live: Kafka → events' subscription → the gateway."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import websockets

from deploy.local_stack import Stack
from tests.e2e.conftest import graphql
from tests.helpers import eventually

pytestmark = pytest.mark.e2e

ORGANIZATION = """mutation($input: RegisterOrganizationInput!) {
  registerOrganization(input: $input) {
    __typename ... on Organization { id } ... on ValidationError { message }
  }
}"""
NETWORK = """mutation($input: CreateNetworkInput!) {
  createNetwork(input: $input) { __typename ... on Network { id } ... on ValidationError { message } }
}"""
JOIN = """mutation($input: JoinNetworkInput!) {
  joinNetwork(input: $input) { __typename ... on ValidationError { message } }
}"""
PLAN = """mutation($input: PlanActivityInput!) {
  planActivity(input: $input) { __typename ... on Activity { id } ... on ValidationError { field message } }
}"""
ANNOUNCE = """mutation($id: ID!) { announceActivity(activityId: $id) { __typename } }"""
FOLLOW = """subscription($network: ID) {
  activityChanges(networkId: $network) { kind activity { title status host { shortName kind } } }
}"""


async def created(stack: Stack, token: str, query: str, field: str, variables: dict[str, Any]) -> str:
    body = await graphql(stack.gateway_url, query, variables, token=token)
    result = body["data"][field]
    assert result.get("id"), body
    return str(result["id"])


async def test_activity_changes_of_a_network_reach_a_subscriber_through_the_gateway(
    stack: Stack, admin_token: str
) -> None:
    def organization(name: str, kind: str) -> dict[str, Any]:
        return {
            "input": {"fullName": f"{name} (подписка)", "shortName": name, "kind": kind, "regionCode": "39"}
        }

    authority = await created(
        stack, admin_token, ORGANIZATION, "registerOrganization", organization("УО", "education_authority")
    )
    school = await created(
        stack, admin_token, ORGANIZATION, "registerOrganization", organization("СОШ № 5", "school")
    )
    network = await created(
        stack,
        admin_token,
        NETWORK,
        "createNetwork",
        {
            "input": {
                "name": "Сеть подписки",
                "level": "regional",
                "regionCode": "39",
                "governingBodyId": authority,
                "startedOn": "2025-01-01",
            }
        },
    )
    joined = await graphql(
        stack.gateway_url,
        JOIN,
        {
            "input": {
                "networkId": network,
                "organizationId": school,
                "role": "partner",
                "joinedOn": "2025-01-01",
            }
        },
        token=admin_token,
    )
    assert joined["data"]["joinNetwork"]["__typename"] == "Membership", joined

    ws_url = stack.gateway_url.replace("http", "ws", 1)

    async def subscribe(socket: Any, authorization: str | None) -> None:
        payload = {"Authorization": authorization} if authorization else {}
        await socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await socket.send(
            json.dumps(
                {
                    "id": "1",
                    "type": "subscribe",
                    "payload": {"query": FOLLOW, "variables": {"network": network}},
                }
            )
        )

    async def changes(socket: Any, count: int) -> list[dict[str, Any]]:
        received = []
        while len(received) < count:
            message = json.loads(await asyncio.wait_for(socket.recv(), 30))
            assert message["type"] == "next", message
            assert "errors" not in message["payload"], message
            received.append(message["payload"]["data"]["activityChanges"])
        await socket.send(json.dumps({"id": "1", "type": "complete"}))
        return received

    protocols = ["graphql-transport-ws"]
    async with (
        websockets.connect(ws_url, subprotocols=protocols) as editor,  # type: ignore[arg-type]
        websockets.connect(ws_url, subprotocols=protocols) as public,  # type: ignore[arg-type]
    ):
        await subscribe(editor, f"Bearer {admin_token}")
        await subscribe(public, None)
        await asyncio.sleep(1.0)  # the events service's live feed is listening before anything is published

        plan = {
            "input": {
                "title": "Семинар в прямом эфире",
                "activityType": "seminar",
                "format": "in_person",
                "hostOrganizationId": school,
                "networkId": network,
                "startsAt": "2031-03-01T10:00:00+03:00",
                "endsAt": "2031-03-01T12:00:00+03:00",
            }
        }

        async def planned() -> str | None:
            body = await graphql(stack.gateway_url, PLAN, plan, token=admin_token)
            result = body["data"]["planActivity"]
            return result.get("id")  # the events service learns the network from Kafka first

        activity = await eventually(planned, timeout=60)
        await graphql(stack.gateway_url, ANNOUNCE, {"id": activity}, token=admin_token)

        received = await changes(editor, 2)
        seen_by_public = await changes(public, 1)

    assert [change["kind"] for change in received] == ["planned", "announced"]
    # an activity still planned is not published: an anonymous subscriber sees it once announced
    assert [change["kind"] for change in seen_by_public] == ["announced"]
    for change in received:
        # the host's name comes from the registry: the gateway completes every event across subgraphs
        assert change["activity"]["host"] == {"shortName": "СОШ № 5", "kind": "school"}
        assert change["activity"]["title"] == "Семинар в прямом эфире"
