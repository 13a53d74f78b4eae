"""Done when (issue 19, items 1 and 2): who may send what, and identities as regions hold them.

Over a real broker and PostgreSQL, two registered sources: one of region 39, one of region 08.

* **Grants.** For each regional topic the region-08 source sends a fact about a region-39 school:
  each is dead-lettered with ``SOURCE_NOT_GRANTED_REGION`` and nothing changes (no row, no event);
  the same fact from the region-39 source is applied. An unregistered source, a ``source_system``
  and a topic outside the grant are refused with their own codes.
* **Identities.** Trainings and deficits name the educator by the course system's person id
  (learned from an import) and by СНИЛС (its keyed hash learned from the registry), assessment
  results name the school by its federal code: each is applied to the right educator or school.
  A reference nobody knows waits, then is dead-lettered naming it. No table of the events
  database holds the СНИЛС in clear.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from setka_contracts import CloudEvent, EventData, topics
from setka_contracts.registry import EducatorEmployment, EducatorRegistered, OrganizationRegistered
from setka_runtime.access import Identity, Role, sign_internal
from setka_runtime.db import Database
from setka_runtime.identities import snils_hash
from setka_runtime.tables import outbox
from sqlalchemy import func, select, text

from services.events import app as events
from services.events import identities, sources
from services.events.models import Activity, AssessmentResult, Attendance, Deficit, Training
from services.events.schema import schema
from services.events.settings import EventsSettings
from services.events.sources import GrantKind
from tests.helpers import eventually, headers_of, produce, read_topic, tables_holding

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
KEY = "sources-test-snils-hmac-key-0123456789abcdef"
SNILS, SNILS_TEXT = "11223344595", "112-233-445 95"
UNKNOWN_SNILS = "08765430300"
WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)


def inn(body: str) -> str:
    return body + str(sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11 % 10)


SCHOOL_39, SCHOOL_08, EDUCATOR_BY_SNILS, EDUCATOR_BY_PERSON = (uuid.uuid4() for _ in range(4))
INN_39, INN_08 = inn("390100011"), inn("080100012")
CODE_39 = "390777"
SOURCE_39, SOURCE_08 = "/regional/rcoi-39", "/regional/rcoi-08"
SYSTEM_39, SYSTEM_08 = "rcoi-39", "rcoi-08"
PERSON = "P-000417"

Message = tuple[str, bytes | None, bytes, dict[str, str]]
SECRET = "events-sources-test-internal-token-secret"
ADMIN_39 = Identity(subject="admin-39", roles=frozenset({Role.regional_admin}), region_code="39")


def registry(data: EventData) -> Message:
    event = CloudEvent(type=data.event_type, source="/setka/registry", data=data.model_dump(mode="json"))
    return topics.REGISTRY, data.key().encode(), event.body(), event.headers()


def school(organization_id: uuid.UUID, number: str, region: str, code: str | None = None) -> Message:
    return registry(
        OrganizationRegistered(
            organization_id=organization_id,
            full_name=f"СОШ региона {region} (тест)",
            short_name=f"СОШ {region}",
            kind="school",
            region_code=region,
            inn=number,
            school_code=code,
            registered_at=NOW,
        )
    )


def educator(educator_id: uuid.UUID, *, snils: str | None = None) -> Message:
    return registry(
        EducatorRegistered(
            educator_id=educator_id,
            last_name="Иванова",
            first_name="Мария",
            qualification_category="first",
            employments=[
                EducatorEmployment(employment_id=uuid.uuid4(), organization_id=SCHOOL_39, position="учитель")
            ],
            snils_hash=snils_hash(snils, KEY) if snils else None,
        )
    )


def fact(topic: str, kind: str, source: str, data: dict[str, Any], version: int = 1) -> Message:
    event = CloudEvent(
        type=f"setka.regional.{kind}.v{version}", source=source, data=data, id=str(uuid.uuid4())
    )
    return topic, str(data["external_id"]).encode(), event.body(), event.headers()


def about_school_39(system: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """One fact of each topic about the region-39 school, as ``system`` sends it."""
    starts = NOW - timedelta(days=2)
    common = {"source_system": system, "recorded_at": NOW.isoformat()}
    return {
        topics.REGIONAL_ACTIVITIES: (
            "activity.recorded",
            {
                "source_system": system,
                "external_id": "A-1",
                "title": "Семинар «Смысловое чтение»",
                "activity_type": "seminar",
                "host": {"inn": INN_39},
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=3)).isoformat(),
                "status": "held",
                "updated_at": NOW.isoformat(),
            },
        ),
        topics.REGIONAL_ATTENDANCE: (
            "attendance.recorded",
            common
            | {
                "external_id": "P-1",
                "activity_external_id": "A-1",
                "organization": {"inn": INN_39},
                "hours": 3,
            },
        ),
        topics.REGIONAL_ASSESSMENTS: (
            "assessment.published",
            common
            | {
                "external_id": "R-1",
                "organization": {"inn": INN_39},
                "procedure": "vpr",
                "subject": "математика",
                "grade": 5,
                "year": NOW.year,
                "participants": 40,
                "mean_score": 3.7,
                "mark_shares": {"2": 0.1, "3": 0.3, "4": 0.4, "5": 0.2},
            },
        ),
        topics.REGIONAL_TRAININGS: (
            "training.completed",
            common
            | {
                "external_id": "T-1",
                "educator_id": str(EDUCATOR_BY_SNILS),
                "organization": {"inn": INN_39},
                "course": "Формирующее оценивание",
                "provider": "КОИРО",
                "hours": 36,
                "completed_on": (NOW.date() - timedelta(days=3)).isoformat(),
            },
        ),
        topics.REGIONAL_DEFICITS: (
            "deficit.diagnosed",
            common
            | {
                "external_id": "D-1",
                "educator_id": str(EDUCATOR_BY_SNILS),
                "organization": {"inn": INN_39},
                "competency": "формирующее оценивание",
                "level": "high",
                "diagnosed_on": (NOW.date() - timedelta(days=5)).isoformat(),
            },
        ),
    }


async def dead_letters(bootstrap: str, topic: str, at_least: int) -> list[dict[str, str]]:
    return [headers_of(r) for r in await read_topic(bootstrap, topics.dead_letter(topic), at_least=at_least)]


async def counts(db: Database) -> dict[str, int]:
    async with db.session() as session:
        found = {
            model.__name__: int(await session.scalar(select(func.count()).select_from(model)) or 0)
            for model in (Activity, Attendance, AssessmentResult, Training, Deficit)
        }
        found["regional events"] = int(
            await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.topic == topics.EVENTS)
            )
            or 0
        )
    return found


async def register_sources(db: Database) -> None:
    async with db.session() as session, session.begin():
        for ce_source, region, system in ((SOURCE_39, "39", SYSTEM_39), (SOURCE_08, "08", SYSTEM_08)):
            await sources.register(
                session,
                ce_source=ce_source,
                region_code=region,
                title=f"РЦОИ региона {region}",
                grants={
                    GrantKind.source_system: [system, "courses-" + region],
                    GrantKind.topic: list(topics.INBOUND),
                    GrantKind.region: [region],
                },
            )
        # what an import of the course system's people taught Setka
        await identities.learn(
            session, identities.MappingKind.educator, "courses-39", PERSON, EDUCATOR_BY_PERSON
        )


async def test_facts_outside_a_source_grant_are_dead_lettered_and_the_granted_source_is_applied(
    broker: Any, service_databases: dict[str, str]
) -> None:
    settings = EventsSettings(
        database_url=service_databases["events"],
        kafka_bootstrap_servers=broker.bootstrap,
        consumer_graceful_seconds=2,
        unknown_wait_seconds=6,
        unknown_retry_seconds=0.3,
        outbox_poll_seconds=0.1,
        unregistered_sources="refuse",
        snils_hmac_key=KEY,
        internal_token_secret=SECRET,
    )
    service = events.build(settings)
    db = service.db
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        await register_sources(db)
        # the region's admin sees the region's sources and their grants, not another region's
        transport = httpx.ASGITransport(app=service.asgi(schema))
        token = sign_internal(ADMIN_39, SECRET)
        query = (
            "query($r: String!) { regionalSources(regionCode: $r) "
            "{ ceSource sourceSystems regions topics kafkaUser } }"
        )
        async with httpx.AsyncClient(transport=transport, base_url="http://events") as client:
            mine, other = [
                (
                    await client.post(
                        "/graphql",
                        json={"query": query, "variables": {"r": region}},
                        headers={"authorization": f"Bearer {token}"},
                    )
                ).json()
                for region in ("39", "08")
            ]
        assert mine["data"]["regionalSources"] == [
            {
                "ceSource": SOURCE_39,
                "sourceSystems": ["courses-39", SYSTEM_39],
                "regions": ["39"],
                "topics": sorted(topics.INBOUND),
                "kafkaUser": "source-regional-rcoi-39",
            }
        ]
        assert other["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        for message in (
            school(SCHOOL_39, INN_39, "39", CODE_39),
            school(SCHOOL_08, INN_08, "08"),
            educator(EDUCATOR_BY_SNILS, snils=SNILS),
            educator(EDUCATOR_BY_PERSON),
        ):
            await produce(broker.bootstrap, message[0], [message[1:]])

        async def copied() -> bool:
            async with db.session() as session:
                return await session.scalar(text("select count(*) from known_educator")) == 2

        await eventually(copied)

        # -- the region-08 source writes about region 39, on every topic: refused
        before = await counts(db)
        for topic, (kind, data) in about_school_39(SYSTEM_08).items():
            await produce(broker.bootstrap, topic, [fact(topic, kind, SOURCE_08, data)[1:]])
        for topic in topics.INBOUND:
            (letter,) = await dead_letters(broker.bootstrap, topic, 1)
            assert "[SOURCE_NOT_GRANTED_REGION]" in letter["dlq_reason"], letter["dlq_reason"]
            assert "регионе 39" in letter["dlq_reason"]
            assert letter["ce_source"] == SOURCE_08
        assert await counts(db) == before

        # -- the same facts from the region-39 source: applied, in order
        for topic, (kind, data) in about_school_39(SYSTEM_39).items():
            await produce(broker.bootstrap, topic, [fact(topic, kind, SOURCE_39, data)[1:]])

        async def applied() -> dict[str, int]:
            now = await counts(db)
            return (
                now
                if all(
                    now[name] == 1
                    for name in ("Activity", "Attendance", "AssessmentResult", "Training", "Deficit")
                )
                else {}
            )

        await eventually(applied)

        # -- an unregistered source, a source_system and a topic outside the grant: refused
        _, assessment_data = about_school_39(SYSTEM_39)[topics.REGIONAL_ASSESSMENTS]
        await produce(
            broker.bootstrap,
            topics.REGIONAL_ASSESSMENTS,
            [
                fact(
                    topics.REGIONAL_ASSESSMENTS, "assessment.published", "/regional/nobody", assessment_data
                )[1:],
                fact(
                    topics.REGIONAL_ASSESSMENTS,
                    "assessment.published",
                    SOURCE_39,
                    assessment_data | {"source_system": SYSTEM_08},
                )[1:],
            ],
        )
        letters = await dead_letters(broker.bootstrap, topics.REGIONAL_ASSESSMENTS, 3)
        reasons = [letter["dlq_reason"] for letter in letters[1:]]
        assert "[SOURCE_NOT_REGISTERED]" in reasons[0] and "/regional/nobody" in reasons[0]
        assert "[SOURCE_NOT_GRANTED_SYSTEM]" in reasons[1] and SYSTEM_08 in reasons[1]
        async with db.session() as session, session.begin():
            source = await sources.get(session, SOURCE_39)
            await sources.revoke(session, source, GrantKind.topic, [topics.REGIONAL_DEFICITS])
        _, deficit_data = about_school_39(SYSTEM_39)[topics.REGIONAL_DEFICITS]
        await produce(
            broker.bootstrap,
            topics.REGIONAL_DEFICITS,
            [
                fact(
                    topics.REGIONAL_DEFICITS,
                    "deficit.diagnosed",
                    SOURCE_39,
                    deficit_data | {"external_id": "D-9"},
                )[1:]
            ],
        )
        letters = await dead_letters(broker.bootstrap, topics.REGIONAL_DEFICITS, 2)
        assert "[SOURCE_NOT_GRANTED_TOPIC]" in letters[1]["dlq_reason"]
        async with db.session() as session, session.begin():
            await sources.grant(
                session, await sources.get(session, SOURCE_39), GrantKind.topic, [topics.REGIONAL_DEFICITS]
            )

        # -- identities as regions hold them (version 2 of the facts)
        common = {"source_system": "courses-39", "recorded_at": NOW.isoformat()}
        by_person = {"person_id": PERSON}
        by_snils = {"snils": SNILS_TEXT}
        training = {
            "course": "Функциональная грамотность",
            "provider": "КОИРО",
            "hours": 72,
            "completed_on": (NOW.date() - timedelta(days=1)).isoformat(),
        }
        deficit = {
            "competency": "смысловое чтение",
            "level": "medium",
            "diagnosed_on": (NOW.date() - timedelta(days=1)).isoformat(),
        }
        school_by_code = {"school_code": CODE_39}
        v2 = [
            fact(
                topics.REGIONAL_TRAININGS,
                "training.completed",
                SOURCE_39,
                common
                | training
                | {"external_id": "T-P", "educator": by_person, "organization": school_by_code},
                2,
            ),
            fact(
                topics.REGIONAL_TRAININGS,
                "training.completed",
                SOURCE_39,
                common
                | training
                | {"external_id": "T-S", "educator": by_snils, "organization": {"inn": INN_39}},
                2,
            ),
            fact(
                topics.REGIONAL_DEFICITS,
                "deficit.diagnosed",
                SOURCE_39,
                common
                | deficit
                | {"external_id": "D-P", "educator": by_person, "organization": school_by_code},
                2,
            ),
            fact(
                topics.REGIONAL_DEFICITS,
                "deficit.diagnosed",
                SOURCE_39,
                common
                | deficit
                | {"external_id": "D-S", "educator": by_snils, "organization": school_by_code},
                2,
            ),
            fact(
                topics.REGIONAL_ASSESSMENTS,
                "assessment.published",
                SOURCE_39,
                assessment_data
                | {"external_id": "R-C", "subject": "русский язык", "organization": school_by_code},
                2,
            ),
            # nobody knows this СНИЛС: it waits, then is dead-lettered naming the reference
            fact(
                topics.REGIONAL_TRAININGS,
                "training.completed",
                SOURCE_39,
                common
                | training
                | {
                    "external_id": "T-U",
                    "educator": {"snils": UNKNOWN_SNILS},
                    "organization": school_by_code,
                },
                2,
            ),
        ]
        for topic, key, value, headers in v2:
            await produce(broker.bootstrap, topic, [(key, value, headers)])

        async def identified() -> list[Any]:
            async with db.session() as session:
                trainings = (
                    await session.execute(
                        select(Training.external_id, Training.educator_id, Training.organization_id).where(
                            Training.external_id.in_(["T-P", "T-S"])
                        )  # type: ignore[attr-defined]
                    )
                ).all()
                deficits = (
                    await session.execute(
                        select(Deficit.external_id, Deficit.educator_id, Deficit.organization_id).where(
                            Deficit.external_id.in_(["D-P", "D-S"])
                        )  # type: ignore[attr-defined]
                    )
                ).all()
                results = (
                    await session.execute(
                        select(AssessmentResult.external_id, AssessmentResult.organization_id).where(
                            AssessmentResult.external_id == "R-C"
                        )
                    )
                ).all()
            rows = sorted([*trainings, *deficits], key=lambda row: row[0])
            return [rows, results] if len(rows) == 4 and results else []

        rows, results = await eventually(identified)
        assert [tuple(row) for row in rows] == [
            ("D-P", EDUCATOR_BY_PERSON, SCHOOL_39),
            ("D-S", EDUCATOR_BY_SNILS, SCHOOL_39),
            ("T-P", EDUCATOR_BY_PERSON, SCHOOL_39),
            ("T-S", EDUCATOR_BY_SNILS, SCHOOL_39),
        ]
        assert [tuple(row) for row in results] == [("R-C", SCHOOL_39)]

        letters = await dead_letters(broker.bootstrap, topics.REGIONAL_TRAININGS, 2)
        waited = letters[-1]["dlq_reason"]
        assert "[UNKNOWN_EDUCATOR_REFERENCE]" in waited and "СНИЛС" in waited and UNKNOWN_SNILS not in waited

    # -- no СНИЛС in clear anywhere in the events database (the search does find what is there)
    assert await tables_holding(service_databases["events"], [SNILS, SNILS_TEXT, UNKNOWN_SNILS]) == []
    assert await tables_holding(service_databases["events"], [INN_39])
