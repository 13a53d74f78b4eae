"""Corrections travel: a network corrected in the registry and a mobility corrected, then deleted,
in the events service reach the copies the other services keep, over a real broker, on PostgreSQL.

The three services run as their processes do (outbox relays, guarded consumers), written to
through their subgraphs by a coordinator of the network's municipality (what the others may not
do is refused). The events service's and analytics' networks follow the rename, and analytics'
mobility figure follows the correction and the deletion; an older version published again under
a new id (a replay, a producer's retry) changes nothing in either.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
import pytest
from setka_contracts import CloudEvent, EventData
from setka_contracts.events import MobilityRecorded
from setka_contracts.registry import NetworkCreated
from setka_runtime.access import Identity, Role, sign_internal
from setka_runtime.db import Database
from setka_runtime.service import Service
from setka_runtime.tables import inbox
from sqlalchemy import select

from services.analytics import app as analytics
from services.analytics.models import Mobility as AnalyticsMobility
from services.analytics.models import Network as AnalyticsNetwork
from services.analytics.settings import AnalyticsSettings
from services.events import app as events
from services.events.models import KnownMembership, KnownNetwork
from services.events.settings import EventsSettings
from services.registry import app as registry
from services.registry import networks, reference
from services.registry import organizations as orgs
from services.registry.models import Municipality
from services.registry.settings import RegistrySettings
from tests.helpers import eventually, produce

pytestmark = pytest.mark.integration

SECRET = "corrections-flow-test-internal-token-secret"
REGION = "39"

REFUSAL = "... on ValidationError { field message code }"
UPDATE_NETWORK = f"""mutation($i: UpdateNetworkInput!) {{ updateNetwork(input: $i) {{
  __typename ... on Network {{ id name version coordinatorId }} {REFUSAL} }} }}"""
RECORD_MOBILITY = """mutation($i: RecordMobilityInput!) { recordMobility(input: $i) {
  __typename ... on MobilityRecord { id version } ... on ValidationError { field message code } } }"""
CORRECT_MOBILITY = """mutation($i: CorrectMobilityInput!) { correctMobility(input: $i) {
  __typename ... on MobilityRecord { id participants hours version }
  ... on ValidationError { field message code } } }"""
DELETE_MOBILITY = f"""mutation($id: ID!) {{ deleteMobility(mobilityId: $id, reason: "записано по ошибке") {{
  __typename ... on MobilityRecord {{ id version deletedAt }} {REFUSAL} }} }}"""


@dataclass
class Stack:
    registry: Service
    events: Service
    analytics: Service
    municipality: uuid.UUID
    other_municipality: uuid.UUID
    network: uuid.UUID
    home: uuid.UUID
    host: uuid.UUID
    created: NetworkCreated

    def coordinator(self, municipality: uuid.UUID) -> Identity:
        return Identity("coordinator", frozenset({Role.municipal_coordinator}), REGION, str(municipality))


async def ask(service: Service, schema: Any, who: Identity, query: str, **variables: Any) -> dict[str, Any]:
    """The subgraph's answer to ``who``, with the internal token the gateway would send."""
    headers = {"authorization": f"Bearer {sign_internal(who, SECRET)}"}
    transport = httpx.ASGITransport(app=service.asgi(schema))
    async with httpx.AsyncClient(transport=transport, base_url="http://subgraph") as client:
        response = await client.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
    return dict(response.json())


async def one(db: Database, model: Any, ident: uuid.UUID) -> Any:
    async with db.session() as session:
        return await session.get(model, ident)


async def seen(db: Database, event_id: str) -> bool:
    """Whether the service's consumers have taken the message ``event_id`` (it is in the inbox)."""
    async with db.session() as session:
        return (
            await session.scalar(select(inbox.c.event_id).where(inbox.c.event_id == event_id))
        ) is not None


async def send_again(bootstrap: str, data: EventData, source: str) -> str:
    """``data`` published once more under a new id, as a replay or a producer's retry would."""
    event = CloudEvent(type=data.event_type, source=source, data=data.model_dump(mode="json"))
    await produce(bootstrap, data.topic, [(data.key().encode(), event.body(), event.headers())])
    return event.id


async def build_registry_world(db: Database) -> dict[str, Any]:
    """Reference data, an authority, a methodological office and two schools in one municipality,
    and a municipal network of which both schools are partners."""
    async with db.session() as session, session.begin():
        await reference.load_reference(session)
        found = list(
            (
                await session.scalars(
                    select(Municipality.id)
                    .where(Municipality.region_code == REGION)
                    .order_by(Municipality.name)
                )
            ).all()
        )
        municipality, other = found[0], found[1]

        async def org(name: str, kind: str) -> uuid.UUID:
            command = orgs.RegisterOrganization(
                full_name=name, short_name=name, kind=kind, region_code=REGION, municipality_id=municipality
            )
            return (await orgs.register_organization(session, command)).id

        authority = await org("Управление образования (поправки)", "education_authority")
        office = await org("Методический кабинет (поправки)", "methodological_service")
        home, host = await org("СОШ № 1 (поправки)", "school"), await org("СОШ № 2 (поправки)", "school")
        network = await networks.create_network(
            session,
            networks.CreateNetwork(
                name="Сеть школ (до поправки)",
                level="municipal",
                region_code=REGION,
                governing_body_id=authority,
                started_on=date(2024, 1, 1),
                municipality_id=municipality,
                coordinator_id=office,
            ),
        )
        for school in (home, host):
            await networks.join_network(
                session, networks.JoinNetwork(network.id, school, "partner", date(2024, 1, 1))
            )
        created = NetworkCreated(
            network_id=network.id,
            name=network.name,
            level="municipal",
            region_code=REGION,
            municipality_id=municipality,
            governing_body_id=authority,
            coordinator_id=office,
            started_on=network.started_on,
        )
    return {
        "municipality": municipality,
        "other_municipality": other,
        "network": network.id,
        "home": home,
        "host": host,
        "created": created,
    }


@pytest.fixture
async def stack(broker: Any, service_databases: dict[str, str]) -> AsyncIterator[Stack]:
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": broker.bootstrap,
        "internal_token_secret": SECRET,
        "outbox_poll_seconds": 0.2,
        "consumer_backoff_seconds": 0.05,
        "consumer_graceful_seconds": 2,
    }
    services = (
        registry.build(RegistrySettings(database_url=service_databases["registry"], **common)),
        events.build(EventsSettings(database_url=service_databases["events"], **common)),
        analytics.build(AnalyticsSettings(database_url=service_databases["analytics"], **common)),
    )
    world = await build_registry_world(services[0].db)
    async with contextlib.AsyncExitStack() as running:
        for service in services:
            await running.enter_async_context(service.running())
        await asyncio.gather(*(asyncio.wait_for(s.connected.wait(), 60) for s in services))
        yield Stack(*services, **world)


async def test_a_renamed_network_and_a_corrected_mobility_reach_every_copy(broker: Any, stack: Stack) -> None:
    events_db, analytics_db = stack.events.db, stack.analytics.db

    async def copies_know_the_network() -> bool:
        async with events_db.session() as session:
            members = len((await session.scalars(select(KnownMembership.id))).all())
        known = await one(events_db, KnownNetwork, stack.network)
        return bool(known and members == 2 and await one(analytics_db, AnalyticsNetwork, stack.network))

    await eventually(copies_know_the_network, timeout=90)

    # -- the registry: a coordinator of the network's municipality renames it and names its coordinator
    coordinator = stack.coordinator(stack.municipality)
    rename = {
        "id": str(stack.network),
        "name": "Сеть школ Балтийского округа",
        "coordinatorId": str(stack.home),
    }
    foreign = await ask(
        stack.registry, registry.schema, stack.coordinator(stack.other_municipality), UPDATE_NETWORK, i=rename
    )
    assert foreign["data"] is None and foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN", foreign
    moved = await ask(
        stack.registry,
        registry.schema,
        coordinator,
        UPDATE_NETWORK,
        i={"id": str(stack.network), "level": "regional"},
    )
    assert moved["errors"][0]["extensions"]["code"] == "FORBIDDEN", "a regional network is the region's"
    answer = (await ask(stack.registry, registry.schema, coordinator, UPDATE_NETWORK, i=rename))["data"]
    assert answer["updateNetwork"] == {
        "__typename": "Network",
        "id": str(stack.network),
        "name": "Сеть школ Балтийского округа",
        "version": 2,
        "coordinatorId": str(stack.home),
    }
    empty = await ask(
        stack.registry,
        registry.schema,
        coordinator,
        UPDATE_NETWORK,
        i={"id": str(stack.network), "name": " "},
    )
    assert empty["data"]["updateNetwork"] == {
        "__typename": "ValidationError",
        "field": "name",
        "message": "Заполните это поле",
        "code": "EMPTY",
    }

    async def renamed_everywhere() -> bool:
        known = await one(events_db, KnownNetwork, stack.network)
        kept = await one(analytics_db, AnalyticsNetwork, stack.network)
        return (known.name, known.version, kept.name, kept.version) == (
            "Сеть школ Балтийского округа",
            2,
            "Сеть школ Балтийского округа",
            2,
        )

    await eventually(renamed_everywhere, timeout=60)

    # the creation published again, late, under a new id: both copies keep the later version
    replayed = await send_again(broker.bootstrap, stack.created, "/setka/registry")
    await eventually(lambda: seen(events_db, replayed), timeout=60)
    await eventually(lambda: seen(analytics_db, replayed), timeout=60)
    assert await renamed_everywhere()

    # -- the events service: a mobility recorded, corrected, then deleted as a mistake
    recorded = await ask(
        stack.events,
        events.schema,
        coordinator,
        RECORD_MOBILITY,
        i={
            "kind": "teachers",
            "homeOrganizationId": str(stack.home),
            "hostOrganizationId": str(stack.host),
            "programme": "Стажировка на базе СОШ № 2",
            "participants": 5,
            "startsOn": "2025-03-03",
            "endsOn": "2025-03-07",
            "hours": 10,
            "networkId": str(stack.network),
        },
    )
    mobility_id = recorded["data"]["recordMobility"]["id"]
    ident = uuid.UUID(mobility_id)
    stale = MobilityRecorded.model_validate(
        {
            "mobility_id": mobility_id,
            "kind": "teachers",
            "home_organization_id": str(stack.home),
            "host_organization_id": str(stack.host),
            "network_id": str(stack.network),
            "programme": "Стажировка на базе СОШ № 2",
            "participants": 5,
            "starts_on": "2025-03-03",
            "ends_on": "2025-03-07",
            "hours": 10,
        }
    )

    async def figure(participants: int, hours: float, version: int) -> bool:
        row = await one(analytics_db, AnalyticsMobility, ident)
        return row is not None and (row.participants, row.hours, row.version) == (
            participants,
            hours,
            version,
        )

    await eventually(lambda: figure(5, 10, 1), timeout=60)
    outsider = stack.coordinator(stack.other_municipality)
    refused = await ask(
        stack.events, events.schema, outsider, CORRECT_MOBILITY, i={"mobilityId": mobility_id, "hours": 12}
    )
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
    corrected = await ask(
        stack.events,
        events.schema,
        coordinator,
        CORRECT_MOBILITY,
        i={"mobilityId": mobility_id, "participants": 6, "hours": 12, "reason": "учтён ещё один педагог"},
    )
    assert corrected["data"]["correctMobility"] == {
        "__typename": "MobilityRecord",
        "id": mobility_id,
        "participants": 6,
        "hours": 12.0,
        "version": 2,
    }
    await eventually(lambda: figure(6, 12, 2), timeout=60)

    deleted = (await ask(stack.events, events.schema, coordinator, DELETE_MOBILITY, id=mobility_id))["data"]
    assert deleted["deleteMobility"]["version"] == 3 and deleted["deleteMobility"]["deletedAt"]
    again = (await ask(stack.events, events.schema, coordinator, DELETE_MOBILITY, id=mobility_id))["data"]
    assert again["deleteMobility"]["code"] == "MOBILITY_DELETED", again
    listed = await ask(stack.events, events.schema, coordinator, "{ mobility { id } }")
    assert listed["data"]["mobility"] == [], "a deleted record is no longer listed"

    async def deleted_in_analytics() -> bool:
        row = await one(analytics_db, AnalyticsMobility, ident)
        return row.version == 3 and row.deleted_at is not None

    await eventually(deleted_in_analytics, timeout=60)

    # the first version published again: the deletion stands
    replayed = await send_again(broker.bootstrap, stale, "/setka/events")
    await eventually(lambda: seen(analytics_db, replayed), timeout=60)
    assert await deleted_in_analytics()
