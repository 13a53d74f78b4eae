"""The audit trail in analytics, on PostgreSQL: every service's ``audit.recorded`` entries go
through analytics' guarded consumer of ``setka.audit`` into ``audit_entry``, once each; regional
admins query them in their scope (``auditTrail``), others are refused; a rebuild keeps them.
Last, the same over a real broker: analytics creates the topic and keeps what is published there.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from setka_contracts import CloudEvent, topics
from setka_contracts.audit import AuditedEvent, AuditRecorded
from setka_runtime.access import Identity, Role
from setka_runtime.db import Database
from setka_runtime.tables import inbox
from sqlalchemy import func, select

from services.analytics import app as analytics
from services.analytics import rebuild
from services.analytics.audit_schema import MAX_PAGE
from services.analytics.models import AuditEntry
from services.analytics.schema import schema
from services.analytics.settings import AnalyticsSettings
from tests.helpers import eventually, produce
from tests.integration.test_analytics_projections import deliver

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
MUNICIPALITY, SCHOOL, OTHER_SCHOOL = (str(uuid.uuid4()) for _ in range(3))

ADMIN_39 = Identity(subject="admin-39", roles=frozenset({Role.regional_admin}), region_code="39")
ADMIN_08 = Identity(subject="admin-08", roles=frozenset({Role.regional_admin}), region_code="08")
FEDERAL = Identity(subject="federal", roles=frozenset({Role.regional_admin}), region_code="*")
COORDINATOR = Identity(
    subject="coordinator-39",
    roles=frozenset({Role.municipal_coordinator}),
    region_code="39",
    municipality_id=MUNICIPALITY,
)
EXPERT = Identity(subject="expert", roles=frozenset({Role.expert}), region_code="39")
ANONYMOUS = Identity()


def entry(
    who: Identity,
    hours: int,
    operation: str,
    *,
    region: str | None,
    service: str = "registry",
    organizations: tuple[str, ...] = (),
    municipality: str | None = None,
) -> AuditRecorded:
    return AuditRecorded(
        entry_id=uuid.uuid4(),
        at=T0 + timedelta(hours=hours),
        service=service,
        operation=operation,
        subject=who.subject or "",
        roles=sorted(who.scopes),
        actor_region_code=who.region_code,
        actor_municipality_id=who.municipality_id,
        actor_organization_id=who.organization_id,
        region_code=region,
        municipality_id=municipality,
        organization_ids=list(organizations),
        events=[
            AuditedEvent(
                event_id=str(uuid.uuid4()),
                event_type="organization.updated",
                key=organizations[0] if organizations else "-",
            )
        ],
    )


REPRESENTATIVE = Identity(
    subject="school-08", roles=frozenset({Role.school_representative}), organization_id=OTHER_SCHOOL
)
TRAIL = [
    entry(ADMIN_39, 0, "updateOrganization", region="39", organizations=(SCHOOL,)),
    entry(ADMIN_08, 1, "updateOrganization", region="08", organizations=(OTHER_SCHOOL,)),
    entry(FEDERAL, 2, "createNetwork", region="39"),
    entry(
        COORDINATOR,
        3,
        "recordAttendance",
        region="39",
        service="events",
        municipality=MUNICIPALITY,
        organizations=(SCHOOL,),
    ),
    entry(REPRESENTATIVE, 4, "updateOrganization", region="08", organizations=(OTHER_SCHOOL,)),
    # a write whose region is not known, by someone who acts in 39: 39's admin sees it
    entry(COORDINATOR, 5, "offerResource", region=None, municipality=MUNICIPALITY),
]
"""Six writes, newest last: 39's admin sees 0, 2, 3 and 5; 08's sees 1 and 4; '*' sees them all."""


def cloud(recorded: AuditRecorded, ce_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        type=recorded.event_type,
        source=f"/setka/{recorded.service}",
        data=recorded.model_dump(mode="json"),
        id=ce_id or str(uuid.uuid4()),
        time=recorded.at,
    )


@pytest.fixture
async def db(service_databases: dict[str, str]) -> AsyncIterator[Database]:
    database = Database(service_databases["analytics"])
    yield database
    await database.dispose()


async def stored(db: Database) -> list[AuditEntry]:
    async with db.session() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.at)))


async def claims(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(inbox)) or 0)


TRAIL_QUERY = """query($region: String, $subject: String, $operation: String, $since: DateTime,
    $until: DateTime, $first: Int! = 100, $after: String) {
    auditTrail(regionCode: $region, subject: $subject, operation: $operation, since: $since,
               until: $until, first: $first, after: $after) {
        edges { cursor node {
            entryId at service operation subject roles actorRegionCode actorMunicipalityId
            actorOrganizationId regionCode municipalityId organizationIds
            events { eventId eventType key } } }
        pageInfo { hasNextPage endCursor } } }"""


async def ask(db: Database, who: Identity, query: str = TRAIL_QUERY, **variables: Any) -> Any:
    result = await schema.execute(query, variable_values=variables, context_value={"db": db, "identity": who})
    return result


async def trail(db: Database, who: Identity, **variables: Any) -> list[dict[str, Any]]:
    result = await ask(db, who, **variables)
    assert result.errors is None, result.errors
    return [edge["node"] for edge in result.data["auditTrail"]["edges"]]


def refusal(result: Any) -> str:
    assert result.data is None, result.data
    (error,) = result.errors
    return str(error.extensions["code"])


def ids(*indexes: int) -> list[str]:
    """The entries of :data:`TRAIL` at these indexes, as the trail lists them: newest first."""
    return [str(TRAIL[i].entry_id) for i in sorted(indexes, reverse=True)]


async def test_each_entry_is_kept_once_through_the_consumer(
    db: Database, service_databases: dict[str, str]
) -> None:
    url = service_databases["analytics"]
    first = [cloud(recorded) for recorded in TRAIL]
    await deliver(
        url,
        {
            topics.AUDIT: [
                *first,
                first[0],  # delivered again (the same ce_id): a duplicate
                cloud(TRAIL[1]),  # the same entry again under a new message id: still kept once
            ]
        },
        one_at_a_time=False,
    )
    await deliver(url, {topics.AUDIT: [cloud(TRAIL[2]), first[3]]}, one_at_a_time=True)

    rows = await stored(db)
    assert [row.entry_id for row in rows] == [recorded.entry_id for recorded in TRAIL]
    coordinated = rows[3]
    assert (coordinated.at, coordinated.service, coordinated.operation, coordinated.subject) == (
        T0 + timedelta(hours=3),
        "events",
        "recordAttendance",
        "coordinator-39",
    )
    assert coordinated.roles == ["municipal_coordinator"]
    assert (coordinated.actor_region_code, coordinated.actor_municipality_id) == ("39", MUNICIPALITY)
    assert (coordinated.region_code, coordinated.municipality_id, coordinated.organization_ids) == (
        "39",
        MUNICIPALITY,
        [SCHOOL],
    )
    assert coordinated.events == [event.model_dump() for event in TRAIL[3].events]


async def test_a_regional_admin_sees_the_trail_of_their_region_and_others_are_refused(
    db: Database, service_databases: dict[str, str]
) -> None:
    await deliver(
        service_databases["analytics"], {topics.AUDIT: [cloud(e) for e in TRAIL]}, one_at_a_time=False
    )

    assert [node["entryId"] for node in await trail(db, ADMIN_39)] == ids(0, 2, 3, 5)
    assert [node["entryId"] for node in await trail(db, ADMIN_39, region="39")] == ids(0, 2, 3, 5)
    assert [node["entryId"] for node in await trail(db, ADMIN_08)] == ids(1, 4)
    assert [node["entryId"] for node in await trail(db, FEDERAL)] == ids(0, 1, 2, 3, 4, 5)
    assert [node["entryId"] for node in await trail(db, FEDERAL, region="08")] == ids(1, 4)

    (node,) = await trail(db, FEDERAL, subject="coordinator-39", operation="recordAttendance")
    assert node == {
        "entryId": str(TRAIL[3].entry_id),
        "at": (T0 + timedelta(hours=3)).isoformat(),
        "service": "events",
        "operation": "recordAttendance",
        "subject": "coordinator-39",
        "roles": ["municipal_coordinator"],
        "actorRegionCode": "39",
        "actorMunicipalityId": MUNICIPALITY,
        "actorOrganizationId": None,
        "regionCode": "39",
        "municipalityId": MUNICIPALITY,
        "organizationIds": [SCHOOL],
        "events": [
            {
                "eventId": TRAIL[3].events[0].event_id,
                "eventType": "organization.updated",
                "key": SCHOOL,
            }
        ],
    }
    (representative,) = await trail(db, ADMIN_08, subject="school-08")
    assert representative["actorOrganizationId"] == OTHER_SCHOOL and representative["actorRegionCode"] is None

    window = {"since": (T0 + timedelta(hours=2)).isoformat(), "until": (T0 + timedelta(hours=5)).isoformat()}
    assert [node["entryId"] for node in await trail(db, FEDERAL, **window)] == ids(2, 3, 4)
    assert [node["entryId"] for node in await trail(db, ADMIN_39, **window)] == ids(2, 3)

    # pages, newest first, by the cursor
    seen: list[str] = []
    after = None
    while True:
        result = await ask(db, FEDERAL, first=4, after=after)
        assert result.errors is None, result.errors
        page = result.data["auditTrail"]
        seen.extend(edge["node"]["entryId"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
        assert after == page["edges"][-1]["cursor"]
    assert seen == ids(0, 1, 2, 3, 4, 5)
    assert [node["entryId"] for node in await trail(db, FEDERAL, first=MAX_PAGE + 1)] == seen
    (broken,) = (await ask(db, FEDERAL, after="not a cursor")).errors
    assert broken.message == "Неверный курсор: начните с первой страницы"
    assert broken.extensions == {
        "code": "BAD_USER_INPUT",
        "validationCode": "INVALID_CURSOR",
        "field": "after",
    }
    (too_early,) = (await ask(db, FEDERAL, since="0001-01-01T00:00:00+14:00")).errors
    assert too_early.extensions == {
        "code": "BAD_USER_INPUT",
        "validationCode": "MOMENT_OUT_OF_RANGE",
        "field": "since",
    }

    # another region than one's own is refused in the resolver; other roles and anonymous callers
    # are refused before anything runs (@requiresScopes)
    assert refusal(await ask(db, ADMIN_39, region="08")) == "FORBIDDEN"
    no_region = Identity(subject="admin-nowhere", roles=frozenset({Role.regional_admin}))
    assert refusal(await ask(db, no_region)) == "FORBIDDEN"
    assert refusal(await ask(db, EXPERT)) == "FORBIDDEN"
    assert refusal(await ask(db, COORDINATOR)) == "FORBIDDEN"
    assert refusal(await ask(db, ANONYMOUS)) == "UNAUTHENTICATED"


async def test_alerts_and_recommended_partners_are_for_signed_in_users(db: Database) -> None:
    alerts = "{ alerts { id } }"
    partners = f'{{ recommendedPartners(organizationId: "{SCHOOL}") {{ score }} }}'
    for query in (alerts, partners):
        assert refusal(await ask(db, ANONYMOUS, query)) == "UNAUTHENTICATED"
        result = await ask(db, FEDERAL, query)
        assert result.errors is None, result.errors
    assert (await ask(db, EXPERT, alerts)).errors is None
    # a school analytics does not know is in nobody's scope but an admin of every region's
    assert refusal(await ask(db, EXPERT, partners)) == "FORBIDDEN"
    public = "{ regionSummaries { regionCode } indicatorDefinitions { id } }"
    result = await ask(db, ANONYMOUS, public)
    assert result.errors is None and result.data["regionSummaries"] == [], result.errors


async def test_a_rebuild_keeps_the_trail_and_its_claims(
    db: Database, service_databases: dict[str, str]
) -> None:
    await deliver(
        service_databases["analytics"], {topics.AUDIT: [cloud(e) for e in TRAIL]}, one_at_a_time=False
    )
    assert await claims(db) == len(TRAIL)

    assert await rebuild.empty(db, "setka.analytics") == 0
    assert [row.entry_id for row in await stored(db)] == [recorded.entry_id for recorded in TRAIL]
    assert await claims(db) == len(TRAIL)


async def test_analytics_creates_the_audit_topic_and_keeps_what_is_published_there(
    broker: Any, service_databases: dict[str, str]
) -> None:
    url = service_databases["analytics"]
    settings = AnalyticsSettings(
        database_url=url,
        kafka_bootstrap_servers=broker.bootstrap,
        consumer_backoff_seconds=0.05,
        consumer_graceful_seconds=2,
        outbox_poll_seconds=0.2,
    )
    service = analytics.build(settings)
    messages = [cloud(recorded) for recorded in TRAIL]

    def keyed(event: CloudEvent) -> tuple[bytes, bytes, dict[str, str]]:
        """As a service's relay publishes an entry: keyed by the subject."""
        return AuditRecorded.model_validate(event.data).key().encode(), event.body(), event.headers()

    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
        await admin.start()
        try:
            assert {topics.AUDIT, topics.dead_letter(topics.AUDIT)} <= set(await admin.list_topics())
        finally:
            await admin.close()
        # each entry published once, then the first again (a relay that published and crashed
        # before marking it) and the second under a new message id
        again = cloud(TRAIL[1], ce_id="again")
        await produce(
            broker.bootstrap, topics.AUDIT, [keyed(event) for event in [*messages, messages[0], again]]
        )

        db = Database(url)
        try:

            async def kept() -> bool:
                return await claims(db) == len(TRAIL) + 1

            await eventually(kept, timeout=60)
            assert [row.entry_id for row in await stored(db)] == [recorded.entry_id for recorded in TRAIL]
            assert [node["entryId"] for node in await trail(db, ADMIN_39)] == ids(0, 2, 3, 5)
        finally:
            await db.dispose()
