"""Done when: a regional system's mixed stream, over a real broker, ends up exactly once in GraphQL.

A separate aiokafka producer publishes to the ``regional.*`` topics the way a regional system
would: valid facts, duplicates (the same ``ce_id`` again, and the same fact under a new id),
out-of-order pairs (an update before the original, attendance before its activity, a fact about
a school before the registry announced it) and malformed messages. Afterwards every valid fact is
visible once through the events service's /graphql, every malformed one is in its topic's DLQ
with its reason, and nothing else is.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from setka_contracts import CloudEvent, EventData, topics
from setka_contracts.registry import (
    EducatorEmployment,
    EducatorRegistered,
    MemberJoined,
    NetworkCreated,
    OrganizationRegistered,
)
from setka_runtime.access import ALL_REGIONS, Identity, Role, sign_internal
from setka_runtime.db import Database
from setka_runtime.tables import outbox
from sqlalchemy import func, select

from services.events import app as events
from services.events.schema import schema
from services.events.settings import EventsSettings
from tests.helpers import eventually, headers_of, produce, read_topic

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
SYSTEM = "kripkro-lms"
WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def inn(body: str) -> str:
    return body + str(sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11 % 10)


INN_A, INN_B, INN_LATE, INN_NEVER = inn("390100001"), inn("390100002"), inn("390100003"), inn("390100004")
ORG_A, ORG_B, ORG_LATE, NETWORK, EDUCATOR = (uuid.uuid4() for _ in range(5))

Message = tuple[str, bytes | None, bytes, dict[str, str]]

SECRET = "events-inbound-test-internal-token-secret"
ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code=ALL_REGIONS)
"""Trainings and deficits are personal data: the test reads as an admin of every region."""


def fact(event_type: str, key: str, data: dict[str, Any], *, ce_id: str | None = None) -> CloudEvent:
    return CloudEvent(
        type=event_type, source="/regional/kripkro-lms", data=data, id=ce_id or str(uuid.uuid4())
    )


def wire(topic: str, event: CloudEvent) -> Message:
    return topic, str(event.data.get("external_id", "")).encode(), event.body(), event.headers()


def registry(data: EventData) -> Message:
    event = CloudEvent(type=data.event_type, source="/setka/registry", data=data.model_dump(mode="json"))
    return topics.REGISTRY, data.key().encode(), event.body(), event.headers()


def activity(external_id: str, *, host_inn: str, title: str, updated: datetime, **extra: Any) -> CloudEvent:
    starts = NOW - timedelta(days=3)
    data = {
        "source_system": SYSTEM,
        "external_id": external_id,
        "title": title,
        "activity_type": "seminar",
        "processes": ["experience_exchange"],
        "host": {"inn": host_inn},
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=4)).isoformat(),
        "status": "held",
        "updated_at": updated.isoformat(),
    } | extra
    return fact("setka.regional.activity.recorded.v1", external_id, data)


def attendance(external_id: str, activity_id: str, org_inn: str, hours: float, **extra: Any) -> CloudEvent:
    data = {
        "source_system": SYSTEM,
        "external_id": external_id,
        "activity_external_id": activity_id,
        "organization": {"inn": org_inn},
        "hours": hours,
        "recorded_at": NOW.isoformat(),
    } | extra
    return fact("setka.regional.attendance.recorded.v1", external_id, data)


def assessment(external_id: str, org_inn: str, subject: str, **extra: Any) -> CloudEvent:
    data = {
        "source_system": "rcoi",
        "external_id": external_id,
        "organization": {"inn": org_inn},
        "procedure": "vpr",
        "subject": subject,
        "grade": 5,
        "year": 2026,
        "participants": 48,
        "mean_score": 3.6,
        "mark_shares": {"2": 0.08, "3": 0.35, "4": 0.4, "5": 0.17},
        "recorded_at": NOW.isoformat(),
    } | extra
    return fact("setka.regional.assessment.published.v1", external_id, data)


def educator_fact(kind: str, external_id: str, **extra: Any) -> CloudEvent:
    data = {
        "source_system": "kripkro-courses",
        "external_id": external_id,
        "educator_id": str(EDUCATOR),
        "organization": {"id": str(ORG_A)},
        "recorded_at": NOW.isoformat(),
    } | extra
    return fact(f"setka.regional.{kind}.v1", external_id, data)


async def graphql(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    token = sign_internal(ADMIN, SECRET)
    response = await client.post(
        "/graphql", json={"query": query}, headers={"authorization": f"Bearer {token}"}
    )
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


def registered(org: uuid.UUID, number: str, name: str, kind: str = "school") -> OrganizationRegistered:
    return OrganizationRegistered(
        organization_id=org,
        full_name=name,
        short_name=name,
        kind=kind,
        region_code="08",
        inn=number,
        registered_at=NOW,
    )


async def test_a_mixed_regional_stream_is_stored_exactly_once_and_bad_messages_are_dead_lettered(
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
        internal_token_secret=SECRET,
    )
    service = events.build(settings)

    known = [
        registry(registered(ORG_A, INN_A, "СОШ № 1 (тест)")),
        registry(registered(ORG_B, INN_B, "СОШ № 2 (тест)")),
        registry(
            NetworkCreated(
                network_id=NETWORK,
                name="Сеть Элисты (тест)",
                level="municipal",
                region_code="08",
                governing_body_id=ORG_B,
                started_on=date(2020, 1, 1),
            )
        ),
        registry(
            MemberJoined(
                network_id=NETWORK,
                membership_id=uuid.uuid4(),
                organization_id=ORG_A,
                role="centre",
                joined_on=date(2020, 1, 1),
            )
        ),
        registry(
            EducatorRegistered(
                educator_id=EDUCATOR,
                last_name="Петрова",
                first_name="Ольга",
                qualification_category="highest",
                employments=[
                    EducatorEmployment(employment_id=uuid.uuid4(), organization_id=ORG_A, position="учитель")
                ],
            )
        ),
    ]

    act1 = activity(
        "A-1",
        host_inn=INN_A,
        title="Семинар по функциональной грамотности",
        updated=NOW,
        network_id=str(NETWORK),
    )
    act2_old = activity("A-2", host_inn=INN_B, title="Вебинар (черновик)", updated=NOW - timedelta(hours=1))
    act2_new = activity("A-2", host_inn=INN_B, title="Вебинар «Смысловое чтение»", updated=NOW)
    act3_late_host = activity("A-3", host_inn=INN_LATE, title="Мастер-класс", updated=NOW)
    act4 = activity("A-4", host_inn=INN_A, title="Открытый урок", updated=NOW)
    att1 = attendance("P-1", "A-1", INN_A, 3.0, educator_id=str(EDUCATOR))
    att1_again = attendance("P-1b", "A-1", INN_A, 3.0, educator_id=str(EDUCATOR))  # same fact, new id
    att4_first = attendance("P-4", "A-4", INN_B, 2.0)  # arrives before its activity
    res_a = assessment("R-1", INN_A, "математика")
    res_a_again = assessment("R-1", INN_A, "математика")  # re-sent by the system under a new ce_id
    res_b = assessment("R-2", INN_B, "русский язык")
    res_late = assessment("R-3", INN_LATE, "математика")  # the school is registered later
    training = educator_fact(
        "training.completed",
        "T-1",
        course="Формирующее оценивание",
        provider="КРИПКРО",
        hours=36,
        completed_on="2026-02-20",
    )
    deficit = educator_fact(
        "deficit.diagnosed",
        "D-1",
        competency="формирующее оценивание",
        level="high",
        diagnosed_on="2026-01-15",
    )

    not_a_member = activity(
        "A-9", host_inn=INN_B, title="Чужой семинар", updated=NOW, network_id=str(NETWORK)
    )
    bad_shares = assessment("R-9", INN_A, "физика", mark_shares={"2": 0.5, "3": 0.2})
    never_known = attendance("P-9", "A-1", INN_NEVER, 1.0)
    unknown_type = fact("setka.regional.training.started.v1", "T-9", {"external_id": "T-9"})
    no_type = assessment("R-8", INN_A, "химия")
    broken_json = assessment("R-7", INN_A, "биология")
    malformed: list[Message] = [
        wire(topics.REGIONAL_ACTIVITIES, not_a_member),
        wire(topics.REGIONAL_ASSESSMENTS, bad_shares),
        wire(topics.REGIONAL_ATTENDANCE, never_known),
        wire(topics.REGIONAL_TRAININGS, unknown_type),
        (
            topics.REGIONAL_ASSESSMENTS,
            b"R-8",
            no_type.body(),
            {k: v for k, v in no_type.headers().items() if k != "ce_type"},
        ),
        (topics.REGIONAL_ASSESSMENTS, b"R-7", b'{"source_system": "rcoi", "external_', broken_json.headers()),
    ]
    stream: list[Message] = [
        wire(topics.REGIONAL_ATTENDANCE, att4_first),
        wire(topics.REGIONAL_ACTIVITIES, act1),
        wire(topics.REGIONAL_ACTIVITIES, act1),  # redelivery: the same ce_id
        wire(topics.REGIONAL_ACTIVITIES, act2_new),
        wire(topics.REGIONAL_ACTIVITIES, act2_old),  # older version arriving late
        wire(topics.REGIONAL_ACTIVITIES, act3_late_host),
        wire(topics.REGIONAL_ATTENDANCE, att1),
        wire(topics.REGIONAL_ATTENDANCE, att1),
        wire(topics.REGIONAL_ATTENDANCE, att1_again),
        wire(topics.REGIONAL_ACTIVITIES, act4),
        wire(topics.REGIONAL_ASSESSMENTS, res_a),
        wire(topics.REGIONAL_ASSESSMENTS, res_a_again),
        wire(topics.REGIONAL_ASSESSMENTS, res_b),
        wire(topics.REGIONAL_ASSESSMENTS, res_late),
        wire(topics.REGIONAL_TRAININGS, training),
        wire(topics.REGIONAL_TRAININGS, training),
        wire(topics.REGIONAL_DEFICITS, deficit),
        *malformed,
    ]

    app = service.asgi(schema)
    transport = httpx.ASGITransport(app=app)
    async with service.running(), httpx.AsyncClient(transport=transport, base_url="http://events") as client:
        await asyncio.wait_for(service.connected.wait(), 60)
        for topic, key, value, headers in known:
            await produce(broker.bootstrap, topic, [(key, value, headers)])

        async def copied() -> bool:
            query = "{ eventsStatus { knownOrganizations knownNetworks knownMemberships knownEducators } }"
            return (await graphql(client, query))["eventsStatus"] == {
                "knownOrganizations": 2,
                "knownNetworks": 1,
                "knownMemberships": 1,
                "knownEducators": 1,
            }

        await eventually(copied, timeout=30)
        for topic, key, value, headers in stream:
            await produce(broker.bootstrap, topic, [(key, value, headers)])

        async def waiting_for_the_late_school() -> bool:
            status = await graphql(client, "{ eventsStatus { waitingMessages } }")
            return status["eventsStatus"]["waitingMessages"] >= 3  # and P-9 wait

        await eventually(waiting_for_the_late_school, timeout=30)
        late = registry(registered(ORG_LATE, INN_LATE, "СОШ № 3 (тест)"))
        await produce(broker.bootstrap, late[0], [late[1:]])

        query = """{
          activities(first: 200) { edges { node { externalId title status hostOrganizationId
            attendance { organizationId educatorId hours } } } }
          assessmentResults { organizationId subject participants }
          trainings { externalId hours } deficits { externalId level }
          participation(organizationId: "ORG_A") { activities hours }
          eventsStatus { waitingMessages }
        }""".replace("ORG_A", str(ORG_A))

        async def settled() -> dict[str, Any] | None:
            data = await graphql(client, query)
            done = (
                len(data["activities"]["edges"]) == 4
                and len(data["assessmentResults"]) == 3
                and data["eventsStatus"]["waitingMessages"] == 0
                and sum(len(e["node"]["attendance"]) for e in data["activities"]["edges"]) == 2
            )
            return data if done else None

        data = await eventually(settled, timeout=60)
        dead: dict[str, list[Any]] = {}
        for topic, at_least in (
            (topics.REGIONAL_ACTIVITIES, 1),
            (topics.REGIONAL_ASSESSMENTS, 3),
            (topics.REGIONAL_ATTENDANCE, 1),
            (topics.REGIONAL_TRAININGS, 1),
            (topics.REGIONAL_DEFICITS, 0),
        ):
            dead[topic] = await read_topic(
                broker.bootstrap, topics.dead_letter(topic), at_least=at_least, timeout=15
            )
        db = Database(settings.database_url)
        try:
            async with db.session() as session:
                recorded = dict(
                    (
                        await session.execute(
                            select(outbox.c.event_type, func.count()).group_by(outbox.c.event_type)
                        )
                    ).all()
                )
        finally:
            await db.dispose()

    activities = {e["node"]["externalId"]: e["node"] for e in data["activities"]["edges"]}
    assert sorted(activities) == ["A-1", "A-2", "A-3", "A-4"]
    assert activities["A-2"]["title"] == "Вебинар «Смысловое чтение»"
    assert activities["A-3"]["hostOrganizationId"] == str(ORG_LATE)
    assert activities["A-1"]["attendance"] == [
        {"organizationId": str(ORG_A), "educatorId": str(EDUCATOR), "hours": 3.0}
    ]
    assert activities["A-4"]["attendance"] == [
        {"organizationId": str(ORG_B), "educatorId": None, "hours": 2.0}
    ]
    assert sorted((r["organizationId"], r["subject"]) for r in data["assessmentResults"]) == sorted(
        [(str(ORG_A), "математика"), (str(ORG_B), "русский язык"), (str(ORG_LATE), "математика")]
    )
    assert data["trainings"] == [{"externalId": "T-1", "hours": 36}]
    assert data["deficits"] == [{"externalId": "D-1", "level": "high"}]
    assert data["participation"] == {"activities": 1, "hours": 3.0}

    reasons = {
        topic: sorted(headers_of(record)["dlq_reason"] for record in records)
        for topic, records in dead.items()
    }
    assert reasons[topics.REGIONAL_ACTIVITIES] == [
        f"rejected: host СОШ № 2 (тест) ({ORG_B}) is not a member of the network «Сеть Элисты (тест)» "
        f"on {(NOW - timedelta(days=3)).date()}"
    ]
    assessments = reasons[topics.REGIONAL_ASSESSMENTS]
    assert len(assessments) == 3, assessments
    assert assessments[0].startswith("does not match setka.regional.assessment.published.v1: mark_shares: ")
    assert "shares must sum to 1, they sum to 0.700" in assessments[0]
    assert assessments[1].startswith("invalid envelope: data is not valid JSON")
    assert assessments[2] == "invalid envelope: missing CloudEvents headers: ce_type"
    assert reasons[topics.REGIONAL_ATTENDANCE] == [
        f"still refers to something unknown after waiting 6s: организация (ИНН {INN_NEVER}) ещё не известна "
        "Setka: она появится, когда её зарегистрирует реестр или импорт сопоставлений "
        "[UNKNOWN_ORGANIZATION_REFERENCE]"
    ]
    assert reasons[topics.REGIONAL_TRAININGS] == [
        "type 'setka.regional.training.started.v1' is not accepted on regional.trainings; "
        "accepted: setka.regional.training.completed.v1, setka.regional.training.completed.v2"
    ]
    assert reasons[topics.REGIONAL_DEFICITS] == []
    assert headers_of(dead[topics.REGIONAL_ATTENDANCE][0])["ce_id"] == never_known.id

    # exactly one domain event per stored fact; the older A-2 and every duplicate recorded nothing
    assert recorded == {
        "setka.events.activity.planned.v1": 4,
        "setka.events.activity.attendance_recorded.v1": 2,
        "setka.events.assessment.recorded.v1": 3,
        "setka.events.training.recorded.v1": 1,
        "setka.events.deficit.recorded.v1": 1,
    }
