# ruff: noqa: E501  (GraphQL documents read best on one line each)
"""Requests for partners' resources, on real PostgreSQL and a real broker: who may request, accept,
decline, cancel and record a use (and who may read requests); days within the resource's
availability; overlapping bookings of a resource of limited capacity; the versioned events in the
outbox; a network's resources summarised by kind; and analytics counting a use in the activation
of centres and partners, once, however often the event arrives.

The world (region 08): schools A1 (owner of the resources) and A2 (requester) of Элиста, B1 of
Городовиковский район; network N of Элиста with A1 and A2 as partners, B1 in no network. A1 offers
R1 (a classroom of capacity 1, available 2025-01-01 to 2031-01-01) and R2 (materials, no capacity).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from setka_contracts import CloudEvent, topics
from setka_contracts.registry import ResourceUsed
from setka_runtime.access import Identity, Role
from setka_runtime.db import Database
from sqlalchemy import func, select

from services.analytics import app as analytics
from services.analytics.analysis import build_analysis
from services.analytics.analysis_model import Period, Scope, ScopeKind
from services.analytics.models import Membership
from services.analytics.models import ResourceUse as KeptUse
from services.analytics.settings import AnalyticsSettings
from services.registry import app as registry
from services.registry import reference
from services.registry.models import Municipality
from services.registry.settings import RegistrySettings
from tests.helpers import eventually, produce, read_topic
from tests.integration.test_analytics_projections import deliver
from tests.integration.test_registry_access import (
    ADMIN,
    ANONYMOUS,
    ELISTA,
    GORODOVIKOVSK,
    REGISTER,
    done,
    execute,
    ok,
    org,
    outbox_rows,
    refused,
    someone,
)

pytestmark = pytest.mark.integration

TODAY = date.today()
PAST = TODAY - timedelta(days=20)
FUTURE = TODAY + timedelta(days=30)

NETWORK = (
    "mutation($i: CreateNetworkInput!) { r: createNetwork(input: $i) { __typename ... on Network { id } } }"
)
JOIN = "mutation($i: JoinNetworkInput!) { r: joinNetwork(input: $i) { __typename ... on Membership { id } } }"
OFFER = (
    "mutation($i: OfferResourceInput!) { r: offerResource(input: $i) { __typename ... on Resource { id } } }"
)
WITHDRAW = "mutation($id: ID!) { r: withdrawResource(resourceId: $id) { __typename } }"
FIELDS = "__typename ... on ResourceRequest { id status version startsOn endsOn declineReason cancelledById } ... on ValidationError { field message }"
REQUEST = f"mutation($i: RequestResourceInput!) {{ r: requestResource(input: $i) {{ {FIELDS} }} }}"
ACCEPT = f"mutation($id: ID!) {{ r: acceptResourceRequest(requestId: $id) {{ {FIELDS} }} }}"
DECLINE = f"mutation($id: ID!, $why: String!) {{ r: declineResourceRequest(requestId: $id, reason: $why) {{ {FIELDS} }} }}"
CANCEL = f'mutation($id: ID!, $by: ID!) {{ r: cancelResourceRequest(requestId: $id, byOrganizationId: $by, reason: "планы изменились") {{ {FIELDS} }} }}'
USE = "mutation($i: RecordResourceUseInput!) { r: recordResourceUse(input: $i) { __typename ... on ResourceUse { id usedFrom usedTo note figure recordedBy { id } } ... on ValidationError { field message } } }"
REQUESTS = "{ resourceRequests(first: 100) { edges { node { id status requester { id } owner { id } resource { id } uses { note } } } } }"
ONE = "query($id: ID!) { resourceRequest(id: $id) { id } }"
SUMMARY = "query($id: ID!, $from: Date!, $to: Date!) { network(id: $id) { resourceSummary(from: $from, to: $to) { kind offered requests accepted uses resources { resource { id } requests accepted uses } } } }"


@dataclass
class World:
    db: Database
    municipality_a: str
    municipality_b: str
    a1: str
    a2: str
    b1: str
    network: str
    room: str
    """R1: capacity 1, so one booking at a time."""
    materials: str
    """R2: no capacity, booked by many at once."""

    def representative(self, organization: str) -> Identity:
        return Identity(
            subject=f"school-{organization}",
            roles=frozenset({Role.school_representative}),
            region_code="08",
            organization_id=organization,
        )

    def coordinator(self, municipality: str) -> Identity:
        return Identity(
            subject=f"coordinator-{municipality}",
            roles=frozenset({Role.municipal_coordinator}),
            region_code="08",
            municipality_id=municipality,
        )

    def asking(self, resource: str, starts: date, ends: date, requester: str | None = None) -> dict[str, Any]:
        return {
            "i": {
                "resourceId": resource,
                "requesterId": requester or self.a2,
                "networkId": self.network,
                "startsOn": starts.isoformat(),
                "endsOn": ends.isoformat(),
                "purpose": "урок физики на оборудовании партнёра",
            }
        }


async def build_world(db: Database) -> World:
    async with db.session() as session, session.begin():
        await reference.load_reference(session)
        places = {
            m.name: str(m.id)
            for m in (
                await session.scalars(select(Municipality).where(Municipality.region_code == "08"))
            ).all()
        }
    a1 = (await done(db, ADMIN, REGISTER, {"i": org(11, ELISTA)}))["id"]
    a2 = (await done(db, ADMIN, REGISTER, {"i": org(12, ELISTA)}))["id"]
    b1 = (await done(db, ADMIN, REGISTER, {"i": org(13, GORODOVIKOVSK)}))["id"]
    authority = (await done(db, ADMIN, REGISTER, {"i": org(14, ELISTA, "education_authority")}))["id"]
    network = await done(
        db,
        ADMIN,
        NETWORK,
        {
            "i": {
                "name": "Сеть Элисты (ресурсы)",
                "level": "municipal",
                "regionCode": "08",
                "municipalityId": places[ELISTA],
                "governingBodyId": authority,
                "startedOn": "2024-01-01",
            }
        },
    )
    for member in (a1, a2):
        given = {
            "networkId": network["id"],
            "organizationId": member,
            "role": "partner",
            "joinedOn": "2024-01-10",
        }
        await done(db, ADMIN, JOIN, {"i": given})
    room = await done(
        db,
        ADMIN,
        OFFER,
        {
            "i": {
                "ownerId": a1,
                "kind": "material",
                "title": "Кабинет физики (точка роста)",
                "capacity": 1,
                "availableFrom": "2025-01-01",
                "availableTo": "2031-01-01",
            }
        },
    )
    materials = await done(
        db, ADMIN, OFFER, {"i": {"ownerId": a1, "kind": "methodological", "title": "Методические разработки"}}
    )
    return World(
        db, places[ELISTA], places[GORODOVIKOVSK], a1, a2, b1, network["id"], room["id"], materials["id"]
    )


@pytest.fixture
async def world(service_databases: dict[str, str]) -> AsyncIterator[World]:
    db = Database(service_databases["registry"])
    yield await build_world(db)
    await db.dispose()


async def result(db: Database, who: Identity, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    (answer,) = (await ok(db, who, query, variables)).values()
    return dict(answer)


async def refused_with(db: Database, who: Identity, query: str, variables: dict[str, Any], field: str) -> str:
    """The command is refused by a rule (a ValidationError at ``field``), writing nothing."""
    before = await outbox_rows(db)
    answer = await result(db, who, query, variables)
    assert answer["__typename"] == "ValidationError" and answer["field"] == field, answer
    assert await outbox_rows(db) == before
    return str(answer["message"])


async def test_a_school_requests_and_the_owner_answers_within_their_scopes(world: World) -> None:
    db, a1, a2 = world.db, world.representative(world.a1), world.representative(world.a2)
    asked = world.asking(world.room, FUTURE, FUTURE + timedelta(days=1))
    # only the requester's people (or editors in its scope) ask on its behalf
    await refused(db, a1, REQUEST, asked)
    await refused(db, world.representative(world.b1), REQUEST, asked)
    await refused(db, world.coordinator(world.municipality_b), REQUEST, asked)
    await refused(db, ANONYMOUS, REQUEST, asked, code="UNAUTHENTICATED")
    await refused(db, someone(Role.viewer, region_code="08"), REQUEST, asked)
    request = await done(db, a2, REQUEST, asked)
    assert (request["status"], request["version"]) == ("requested", 1)
    by_coordinator = await done(
        db, world.coordinator(world.municipality_a), REQUEST, world.asking(world.materials, FUTURE, FUTURE)
    )

    # only the owner's people (or editors in its scope) answer
    await refused(db, a2, ACCEPT, {"id": request["id"]})
    await refused(db, a2, DECLINE, {"id": request["id"], "why": "нет"})
    await refused(db, world.coordinator(world.municipality_b), ACCEPT, {"id": request["id"]})
    accepted = await done(db, a1, ACCEPT, {"id": request["id"]})
    assert (accepted["status"], accepted["version"]) == ("accepted", 2)
    await refused_with(db, a1, ACCEPT, {"id": request["id"]}, "requestId")
    await refused_with(db, a1, DECLINE, {"id": by_coordinator["id"], "why": "  "}, "reason")
    declined = await done(
        db,
        world.coordinator(world.municipality_a),
        DECLINE,
        {"id": by_coordinator["id"], "why": "материалы обновляются"},
    )
    assert (declined["status"], declined["declineReason"]) == ("declined", "материалы обновляются")
    await refused_with(db, a1, ACCEPT, {"id": by_coordinator["id"]}, "requestId")

    # the events, in order, each with the request's version
    events = [(t, k) for _, t, k, _ in await outbox_rows(db) if "resource.re" in t]
    assert events == [
        ("setka.registry.resource.requested.v1", request["id"]),
        ("setka.registry.resource.requested.v1", by_coordinator["id"]),
        ("setka.registry.resource.request_accepted.v1", request["id"]),
        ("setka.registry.resource.request_declined.v1", by_coordinator["id"]),
    ]


async def test_days_lie_within_availability_between_members_of_one_network(world: World) -> None:
    db, a2 = world.db, world.representative(world.a2)
    await refused_with(
        db, a2, REQUEST, world.asking(world.room, date(2024, 12, 31), date(2025, 1, 2)), "startsOn"
    )
    await refused_with(
        db, a2, REQUEST, world.asking(world.room, date(2030, 12, 30), date(2031, 1, 1)), "endsOn"
    )
    await refused_with(
        db, a2, REQUEST, world.asking(world.room, FUTURE, FUTURE - timedelta(days=1)), "endsOn"
    )
    last_day = await done(db, a2, REQUEST, world.asking(world.room, date(2030, 12, 30), date(2030, 12, 31)))
    assert last_day["endsOn"] == "2030-12-31"
    # its own resource; a school of no network; a withdrawn resource; an empty purpose
    a1 = world.representative(world.a1)
    await refused_with(
        db, a1, REQUEST, world.asking(world.room, FUTURE, FUTURE, requester=world.a1), "requesterId"
    )
    await refused_with(
        db, ADMIN, REQUEST, world.asking(world.room, FUTURE, FUTURE, requester=world.b1), "requesterId"
    )
    blank = world.asking(world.materials, FUTURE, FUTURE)
    blank["i"]["purpose"] = " "
    await refused_with(db, a2, REQUEST, blank, "purpose")
    await done(db, a1, WITHDRAW, {"id": world.materials})
    await refused_with(db, a2, REQUEST, world.asking(world.materials, FUTURE, FUTURE), "resourceId")


async def test_a_resource_of_limited_capacity_is_booked_once_for_a_day(world: World) -> None:
    db, a1, a2 = world.db, world.representative(world.a1), world.representative(world.a2)
    first = await done(db, a2, REQUEST, world.asking(world.room, FUTURE, FUTURE + timedelta(days=2)))
    overlapping = await done(
        db, a2, REQUEST, world.asking(world.room, FUTURE + timedelta(days=2), FUTURE + timedelta(days=3))
    )
    after = await done(
        db, a2, REQUEST, world.asking(world.room, FUTURE + timedelta(days=4), FUTURE + timedelta(days=5))
    )
    await done(db, a1, ACCEPT, {"id": first["id"]})
    message = await refused_with(db, a1, ACCEPT, {"id": overlapping["id"]}, "requestId")
    assert "уже занят" in message
    await refused_with(
        db,
        a2,
        REQUEST,
        world.asking(world.room, FUTURE + timedelta(days=1), FUTURE + timedelta(days=1)),
        "startsOn",
    )
    assert (await done(db, a1, ACCEPT, {"id": after["id"]}))["status"] == "accepted"
    # cancelled, the days are free again
    await done(db, a2, CANCEL, {"id": first["id"], "by": world.a2})
    assert (await done(db, a1, ACCEPT, {"id": overlapping["id"]}))["status"] == "accepted"
    # a resource without a capacity serves many at once
    for _ in range(2):
        shared = await done(
            db, a2, REQUEST, world.asking(world.materials, FUTURE, FUTURE + timedelta(days=5))
        )
        await done(db, a1, ACCEPT, {"id": shared["id"]})


async def test_either_side_cancels_an_accepted_booking_before_it_starts(world: World) -> None:
    db, a1, a2 = world.db, world.representative(world.a1), world.representative(world.a2)
    mine = await done(db, a2, REQUEST, world.asking(world.materials, FUTURE, FUTURE))
    # the owner answers an unanswered request; the requester may take it back
    await refused_with(db, a1, CANCEL, {"id": mine["id"], "by": world.a1}, "byOrganizationId")
    # a school acts for its own side only; a third school is no side at all
    await refused(db, a1, CANCEL, {"id": mine["id"], "by": world.a2})
    await refused_with(db, ADMIN, CANCEL, {"id": mine["id"], "by": world.b1}, "byOrganizationId")
    taken_back = await done(db, a2, CANCEL, {"id": mine["id"], "by": world.a2})
    assert (taken_back["status"], taken_back["cancelledById"]) == ("cancelled", world.a2)

    booked = await done(db, a2, REQUEST, world.asking(world.materials, FUTURE, FUTURE))
    await done(db, a1, ACCEPT, {"id": booked["id"]})
    cancelled = await done(db, a1, CANCEL, {"id": booked["id"], "by": world.a1})
    assert (cancelled["status"], cancelled["cancelledById"], cancelled["version"]) == (
        "cancelled",
        world.a1,
        3,
    )
    await refused_with(db, a2, CANCEL, {"id": booked["id"], "by": world.a2}, "requestId")

    started = await done(db, a2, REQUEST, world.asking(world.materials, PAST, FUTURE))
    await done(db, a1, ACCEPT, {"id": started["id"]})
    assert "Бронь началась" in await refused_with(
        db, a2, CANCEL, {"id": started["id"], "by": world.a2}, "requestId"
    )


async def test_either_side_records_a_use_within_the_booking(world: World) -> None:
    db, a1, a2 = world.db, world.representative(world.a1), world.representative(world.a2)
    booking = await done(db, a2, REQUEST, world.asking(world.room, PAST, FUTURE))

    def use(
        by: str, first: date, last: date | None = None, note: str = "лабораторная работа, 8 класс"
    ) -> dict[str, Any]:
        given = {
            "requestId": booking["id"],
            "recordedById": by,
            "usedFrom": first.isoformat(),
            "note": note,
            "figure": 24,
        }
        return {"i": given | ({"usedTo": last.isoformat()} if last else {})}

    await refused_with(db, a2, USE, use(world.a2, PAST), "requestId")  # not accepted yet
    await done(db, a1, ACCEPT, {"id": booking["id"]})
    await refused(db, world.representative(world.b1), USE, use(world.a2, PAST))
    await refused(db, a1, USE, use(world.a2, PAST))  # for the other side
    await refused_with(db, a2, USE, use(world.a2, PAST - timedelta(days=1)), "usedFrom")
    await refused_with(db, a2, USE, use(world.a2, PAST, FUTURE + timedelta(days=1)), "usedTo")
    await refused_with(db, a2, USE, use(world.a2, TODAY + timedelta(days=1)), "usedFrom")
    await refused_with(db, a2, USE, use(world.a2, PAST, note=""), "note")
    used = await done(db, a2, USE, use(world.a2, PAST, PAST + timedelta(days=1)))
    assert (used["usedFrom"], used["usedTo"], used["figure"], used["recordedBy"]["id"]) == (
        PAST.isoformat(),
        (PAST + timedelta(days=1)).isoformat(),
        24.0,
        world.a2,
    )
    by_owner = await done(db, world.coordinator(world.municipality_a), USE, use(world.a1, TODAY))
    assert by_owner["usedTo"] == TODAY.isoformat()
    events = [(t, payload) for _, t, k, payload in await outbox_rows(db) if t.endswith("resource.used.v1")]
    assert len(events) == 2 and all(booking["id"] in payload for _, payload in events)


async def test_requests_are_read_by_both_sides_and_editors_in_scope(world: World) -> None:
    db = world.db
    request = await done(
        db, world.representative(world.a2), REQUEST, world.asking(world.materials, FUTURE, FUTURE)
    )

    async def seen(who: Identity) -> list[str]:
        data = await ok(db, who, REQUESTS)
        return [edge["node"]["id"] for edge in data["resourceRequests"]["edges"]]

    for who in (
        world.representative(world.a1),
        world.representative(world.a2),
        world.coordinator(world.municipality_a),
        ADMIN,
    ):
        assert await seen(who) == [request["id"]], who
        assert (await ok(db, who, ONE, {"id": request["id"]}))["resourceRequest"] == {"id": request["id"]}
    for who in (
        world.representative(world.b1),
        world.coordinator(world.municipality_b),
        someone(Role.regional_admin, region_code="39"),
    ):
        assert await seen(who) == [], who
        assert (await ok(db, who, ONE, {"id": request["id"]}))["resourceRequest"] is None
    for who, code in (
        (ANONYMOUS, "UNAUTHENTICATED"),
        (someone(Role.viewer, region_code="08"), "FORBIDDEN"),
        (someone(Role.expert, region_code="08"), "FORBIDDEN"),
    ):
        answer = await execute(db, who, REQUESTS)
        assert {e.extensions["code"] for e in answer.errors or []} == {code}, answer


async def test_a_networks_resources_by_kind_with_requests_and_uses_in_a_period(world: World) -> None:
    db, a1, a2 = world.db, world.representative(world.a1), world.representative(world.a2)
    booking = await done(db, a2, REQUEST, world.asking(world.room, PAST, PAST + timedelta(days=1)))
    await done(db, a1, ACCEPT, {"id": booking["id"]})
    await done(
        db,
        a2,
        USE,
        {
            "i": {
                "requestId": booking["id"],
                "recordedById": world.a2,
                "usedFrom": PAST.isoformat(),
                "note": "опыты",
            }
        },
    )
    later = await done(db, a2, REQUEST, world.asking(world.materials, FUTURE, FUTURE))
    await done(db, a1, DECLINE, {"id": later["id"], "why": "занято"})

    async def summary(first: date, last: date) -> dict[str, Any]:
        data = await ok(
            db, ANONYMOUS, SUMMARY, {"id": world.network, "from": first.isoformat(), "to": last.isoformat()}
        )
        return {k["kind"]: k for k in data["network"]["resourceSummary"]}

    whole = await summary(PAST - timedelta(days=1), FUTURE)
    assert [(k, v["offered"], v["requests"], v["accepted"], v["uses"]) for k, v in whole.items()] == [
        ("staff", 0, 0, 0, 0),
        ("methodological", 1, 1, 0, 0),
        ("material", 1, 1, 1, 1),
    ]
    assert whole["material"]["resources"] == [
        {"resource": {"id": world.room}, "requests": 1, "accepted": 1, "uses": 1}
    ]
    early = await summary(PAST - timedelta(days=1), PAST)
    assert (
        early["material"]["requests"],
        early["material"]["uses"],
        early["methodological"]["requests"],
    ) == (1, 1, 0)
    answer = await execute(
        db, ANONYMOUS, SUMMARY, {"id": world.network, "from": "2025-02-01", "to": "2025-01-01"}
    )
    assert answer.errors


# -- analytics ---------------------------------------------------------------------------------------


def used_event(
    use_id: uuid.UUID, version: int, owner: uuid.UUID, requester: uuid.UUID, network: uuid.UUID
) -> ResourceUsed:
    return ResourceUsed(
        request_id=uuid.UUID(int=1),
        version=version,
        resource_id=uuid.UUID(int=2),
        owner_id=owner,
        requester_id=requester,
        network_id=network,
        use_id=use_id,
        resource_kind="material",
        used_from=date(2025, 3, 3),
        used_to=date(2025, 3, 3),
        note="экскурсия" if version == 3 else "лабораторная",
        figure=float(version),
        recorded_by_id=requester,
        recorded_at=datetime(2025, 3, 3, 12, tzinfo=UTC),
    )


async def test_a_use_is_kept_once_by_its_id_and_only_a_newer_version_replaces_it(
    service_databases: dict[str, str],
) -> None:
    url = service_databases["analytics"]
    owner, requester, network, use_id = (uuid.uuid4() for _ in range(4))

    def cloud(data: ResourceUsed, ce_id: str | None = None) -> CloudEvent:
        return CloudEvent(
            type=data.event_type,
            source="/setka/registry",
            data=data.model_dump(mode="json"),
            id=ce_id or str(uuid.uuid4()),
        )

    first = cloud(used_event(use_id, 3, owner, requester, network), ce_id="use-1")
    batch = [
        first,
        cloud(used_event(use_id, 3, owner, requester, network), ce_id="use-1"),
        cloud(used_event(use_id, 2, owner, requester, network)),
    ]
    await deliver(url, {topics.REGISTRY: batch}, one_at_a_time=False)
    await deliver(
        url, {topics.REGISTRY: [cloud(used_event(use_id, 3, owner, requester, network))]}, one_at_a_time=True
    )
    db = Database(url)
    try:
        async with db.session() as session:
            rows = (await session.scalars(select(KeptUse))).all()
        assert [(r.id, r.version, r.figure) for r in rows] == [(use_id, 3, 3.0)]
        await deliver(
            url,
            {topics.REGISTRY: [cloud(used_event(use_id, 4, owner, requester, network))]},
            one_at_a_time=True,
        )
        async with db.session() as session:
            assert (await session.scalar(select(KeptUse.figure))) == 4.0
    finally:
        await db.dispose()


async def test_a_recorded_use_activates_the_partner_in_analytics_over_the_broker(
    broker: Any, service_databases: dict[str, str]
) -> None:
    """The registry's relay publishes the use to the broker; analytics' consumer keeps it (once,
    even when the same message arrives again and the same fact under another id), and the owner of
    the resource counts as an activated partner of the network for the period of the use."""
    registry_service = registry.build(
        RegistrySettings(
            database_url=service_databases["registry"],
            kafka_bootstrap_servers=broker.bootstrap,
            outbox_poll_seconds=0.1,
        )
    )
    analytics_service = analytics.build(
        AnalyticsSettings(
            database_url=service_databases["analytics"],
            kafka_bootstrap_servers=broker.bootstrap,
            consumer_backoff_seconds=0.05,
            consumer_graceful_seconds=2,
            outbox_poll_seconds=0.2,
        )
    )
    async with registry_service.running(), analytics_service.running():
        await asyncio.wait_for(registry_service.connected.wait(), 60)
        await asyncio.wait_for(analytics_service.connected.wait(), 60)
        world = await build_world(registry_service.db)
        db, a1, a2 = world.db, world.representative(world.a1), world.representative(world.a2)
        booking = await done(db, a2, REQUEST, world.asking(world.room, PAST, PAST))
        await done(db, a1, ACCEPT, {"id": booking["id"]})
        scope = Scope(ScopeKind.network, world.network)
        period = Period(PAST - timedelta(days=PAST.day - 1), PAST + timedelta(days=1))
        kept = analytics_service.db

        async def activation() -> float | None:
            async with kept.session() as session:
                analysis = await build_analysis(session, scope, period)
            value = {v.definition.id: v for v in analysis.indicators}["partner_activation"]
            return value.value

        async def knows_the_network() -> bool:
            async with kept.session() as session:
                members = await session.scalar(select(func.count()).select_from(Membership))
            return members == 2

        await eventually(knows_the_network, timeout=60)
        assert await activation() == 0.0  # two partners, neither hosted, received nor lent
        await done(
            db,
            a2,
            USE,
            {
                "i": {
                    "requestId": booking["id"],
                    "recordedById": world.a2,
                    "usedFrom": PAST.isoformat(),
                    "note": "лабораторная работа",
                }
            },
        )

        async def counted() -> bool:
            return await activation() == 50.0  # A1 lent its room; A2, the requester, did not

        await eventually(counted, timeout=60)
        # the same message again, and the same fact under a new message id
        (record,) = [
            r
            for r in await read_topic(broker.bootstrap, topics.REGISTRY, at_least=1)
            if dict((k, v.decode()) for k, v in r.headers).get("ce_type") == ResourceUsed.event_type
        ]
        headers = {k: v.decode() for k, v in record.headers}
        await produce(
            broker.bootstrap,
            topics.REGISTRY,
            [(record.key, record.value, headers), (record.key, record.value, headers | {"ce_id": "again"})],
        )

        async def both_read() -> bool:
            async with kept.session() as session:
                return bool(await session.scalar(select(func.count()).select_from(KeptUse)) == 1)

        await asyncio.sleep(2)
        assert await both_read()
        assert await activation() == 50.0
