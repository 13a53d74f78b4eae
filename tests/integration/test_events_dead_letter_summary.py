"""Done when: a regional admin sees what their region's systems sent that was refused, counted by
reason, without anyone reading Kafka.

A regional system publishes to ``regional.*`` on a real broker: a poison message (not JSON), a fact
that breaks a rule (an activity «held» that starts next week), a fact that does not match its
contract and a type the topic does not take, the last three about a school of region 08 the
events service knows. Each is dead-lettered; ``deadLetterSummary`` then counts the region's three
by topic and reason kind for its admin, and the poison one, whose region cannot be told, only for
an admin of every region. The admin of another region, a school, and a coordinator are refused.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from setka_contracts import CloudEvent, topics
from setka_contracts.registry import OrganizationRegistered
from setka_runtime.access import ALL_REGIONS, Identity, Role
from sqlalchemy import select

from services.events import app as events
from services.events.models import DeadLetter
from services.events.schema import schema
from services.events.settings import EventsSettings
from tests.helpers import eventually, produce

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
SYSTEM = "/regional/kalmykia-lms"


def inn(body: str) -> str:
    return body + str(sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11 % 10)


SCHOOL_INN = inn("080100011")
SCHOOL = uuid.uuid4()

ADMIN_08 = Identity(subject="admin-08", roles=frozenset({Role.regional_admin}), region_code="08")
ADMIN_39 = Identity(subject="admin-39", roles=frozenset({Role.regional_admin}), region_code="39")
EVERYWHERE = Identity(subject="admin-all", roles=frozenset({Role.regional_admin}), region_code=ALL_REGIONS)
REPRESENTATIVE = Identity(
    subject="school", roles=frozenset({Role.school_representative}), organization_id=str(SCHOOL)
)
COORDINATOR = Identity(
    subject="coordinator",
    roles=frozenset({Role.municipal_coordinator}),
    municipality_id=str(uuid.uuid4()),
)

SUMMARY = """query($r: String!, $since: DateTime) {
  deadLetterSummary(regionCode: $r, since: $since) {
    regionCode total firstSeen lastSeen sources
    counts { topic reasonKind count }
    latest { topic reason reasonKind ceType ceSource ceId }
    undetermined { regionCode total sources counts { topic reasonKind count } }
  }
}"""


def fact(event_type: str, data: dict[str, Any]) -> CloudEvent:
    return CloudEvent(type=event_type, source=SYSTEM, data=data, id=str(uuid.uuid4()))


def held_next_week() -> CloudEvent:
    starts = NOW + timedelta(days=7)
    return fact(
        "setka.regional.activity.recorded.v1",
        {
            "source_system": "kalmykia-lms",
            "external_id": "A-1",
            "title": "Семинар",
            "activity_type": "seminar",
            "processes": ["experience_exchange"],
            "host": {"inn": SCHOOL_INN},
            "starts_at": starts.isoformat(),
            "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "status": "held",
            "updated_at": NOW.isoformat(),
        },
    )


def assessment(**extra: Any) -> CloudEvent:
    data = {
        "source_system": "rcoi",
        "external_id": "R-1",
        "organization": {"inn": SCHOOL_INN},
        "procedure": "vpr",
        "subject": "математика",
        "grade": 5,
        "year": 2026,
        "participants": 48,
        "mean_score": 3.6,
        "mark_shares": {"2": 0.08, "3": 0.35, "4": 0.4, "5": 0.17},
        "recorded_at": NOW.isoformat(),
    } | extra
    return fact("setka.regional.assessment.published.v1", data)


async def ask(service: Any, who: Identity, region: str) -> Any:
    return await schema.execute(
        SUMMARY,
        variable_values={"r": region},
        context_value={"db": service.db, "identity": who, "service_name": "events"},
    )


async def test_the_dead_letters_of_a_regions_systems_are_counted_by_reason_for_its_admin(
    broker: Any, service_databases: dict[str, str]
) -> None:
    settings = EventsSettings(
        database_url=service_databases["events"],
        kafka_bootstrap_servers=broker.bootstrap,
        consumer_max_attempts=2,
        consumer_backoff_seconds=0.05,
        consumer_graceful_seconds=2,
        unknown_wait_seconds=6,
        unknown_retry_seconds=0.3,
        outbox_poll_seconds=0.1,
    )
    service = events.build(settings)
    school = OrganizationRegistered(
        organization_id=SCHOOL,
        full_name="МБОУ «СОШ № 11» г. Элисты",
        short_name="СОШ № 11",
        kind="school",
        region_code="08",
        inn=SCHOOL_INN,
        registered_at=NOW,
    )
    known = CloudEvent(type=school.event_type, source="/setka/registry", data=school.model_dump(mode="json"))
    wrong_shares = assessment(mark_shares={"2": 0.5, "3": 0.2})
    not_taken = fact("setka.regional.assessment.retracted.v1", {"organization": {"inn": SCHOOL_INN}})
    poison = assessment(external_id="R-2")
    held = held_next_week()

    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        await produce(
            broker.bootstrap, topics.REGISTRY, [(str(SCHOOL).encode(), known.body(), known.headers())]
        )

        async def copied() -> bool:
            data = (
                await schema.execute(
                    "{ eventsStatus { knownOrganizations } }", context_value={"db": service.db}
                )
            ).data
            return bool(data) and data["eventsStatus"]["knownOrganizations"] == 1

        await eventually(copied, timeout=30)
        await produce(broker.bootstrap, topics.REGIONAL_ACTIVITIES, [(b"A-1", held.body(), held.headers())])
        await produce(
            broker.bootstrap,
            topics.REGIONAL_ASSESSMENTS,
            [
                (b"R-1", wrong_shares.body(), wrong_shares.headers()),
                (b"R-9", not_taken.body(), not_taken.headers()),
                (b"R-2", b'{"source_system": "rcoi", "external_', poison.headers()),
            ],
        )

        async def noted() -> list[DeadLetter] | None:
            async with service.db.session() as session:
                rows = list((await session.scalars(select(DeadLetter))).all())
            return rows if len(rows) >= 4 else None

        rows = await eventually(noted, timeout=60)

    assert len(rows) == 4
    assert all(row.ce_source == SYSTEM for row in rows)
    assert sorted(row.region_code or "-" for row in rows) == ["-", "08", "08", "08"]

    mine = await ask(service, ADMIN_08, "08")
    assert not mine.errors, mine.errors
    summary = mine.data["deadLetterSummary"]
    assert summary["regionCode"] == "08" and summary["total"] == 3
    assert summary["sources"] == [SYSTEM]
    assert summary["undetermined"] is None, "a regional admin does not see letters of no known region"
    counts = {(c["topic"], c["reasonKind"]): c["count"] for c in summary["counts"]}
    assert counts == {
        (topics.REGIONAL_ACTIVITIES, "status is held but the activity starts in the future"): 1,
        (topics.REGIONAL_ASSESSMENTS, "does not match setka.regional.assessment.published.vN"): 1,
        (
            topics.REGIONAL_ASSESSMENTS,
            "type 'setka.regional.assessment.retracted.vN' is not accepted on regional.assessments",
        ): 1,
    }
    assert len(summary["latest"]) == 3
    assert all(latest["reason"] and latest["ceId"] for latest in summary["latest"])
    assert summary["firstSeen"] <= summary["lastSeen"]

    later = await schema.execute(
        SUMMARY,
        variable_values={"r": "08", "since": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
        context_value={"db": service.db, "identity": ADMIN_08, "service_name": "events"},
    )
    assert not later.errors and later.data["deadLetterSummary"]["total"] == 0, "the period filters"

    every = await ask(service, EVERYWHERE, "08")
    assert not every.errors, every.errors
    unknown = every.data["deadLetterSummary"]["undetermined"]
    assert unknown["regionCode"] is None and unknown["total"] == 1
    assert unknown["counts"] == [
        {"topic": topics.REGIONAL_ASSESSMENTS, "reasonKind": "invalid envelope", "count": 1}
    ]

    for who in (ADMIN_39, REPRESENTATIVE, COORDINATOR, Identity()):
        refused = await ask(service, who, "08")
        assert refused.errors and refused.data is None, who
        assert {e.extensions["code"] for e in refused.errors} <= {"FORBIDDEN", "UNAUTHENTICATED"}
