"""Done when: an older version of a regional fact never overwrites a newer one, in any arrival order.

Over a real broker and PostgreSQL, each kind of versioned fact arrives newer-first, and an
attendance parked while its activity was unknown is retried from the waiting room after a newer
version of it was applied: the newer one stays every time.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from setka_contracts import CloudEvent, topics
from setka_runtime.db import Database
from sqlalchemy import text

from services.events import app as events
from services.events.settings import EventsSettings
from tests.conftest import DatabaseFactory
from tests.helpers import eventually, produce
from tests.integration.events_world import World, make_world

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
OLD, NEW = NOW - timedelta(days=2), NOW - timedelta(days=1)


@pytest.fixture
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "versions"):
        yield made


def fact(topic: str, kind: str, data: dict[str, Any]) -> tuple[str, bytes, bytes, dict[str, str]]:
    event = CloudEvent(type=f"setka.regional.{kind}.v1", source="/regional/test", data=data)
    return topic, str(data["external_id"]).encode(), event.body(), event.headers()


async def rows(db: Database, sql: str) -> list[Any]:
    async with db.session() as session:
        return list((await session.execute(text(sql))).all())


async def test_the_newer_version_stays_whatever_arrives_later(broker: Any, world: World) -> None:
    url = world.db.url
    service = events.build(
        EventsSettings(
            database_url=url,
            kafka_bootstrap_servers=broker.bootstrap,
            unknown_retry_seconds=0.2,
            consumer_backoff_seconds=0.05,
            consumer_graceful_seconds=2,
        )
    )
    host, educator = {"id": str(world.host)}, str(world.educator)
    starts = NOW - timedelta(days=3)

    def activity(version: datetime, title: str) -> tuple[str, bytes, bytes, dict[str, str]]:
        return fact(
            topics.REGIONAL_ACTIVITIES,
            "activity.recorded",
            {
                "source_system": "lms",
                "external_id": "A-1",
                "title": title,
                "activity_type": "seminar",
                "host": host,
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=3)).isoformat(),
                "status": "held",
                "updated_at": version.isoformat(),
            },
        )

    def attendance(version: datetime, hours: float) -> tuple[str, bytes, bytes, dict[str, str]]:
        return fact(
            topics.REGIONAL_ATTENDANCE,
            "attendance.recorded",
            {
                "source_system": "lms",
                "external_id": "P-1",
                "activity_external_id": "A-1",
                "organization": host,
                "hours": hours,
                "recorded_at": version.isoformat(),
            },
        )

    def assessment(version: datetime, mean: float) -> tuple[str, bytes, bytes, dict[str, str]]:
        return fact(
            topics.REGIONAL_ASSESSMENTS,
            "assessment.published",
            {
                "source_system": "rcoi",
                "external_id": "R-1",
                "organization": host,
                "procedure": "vpr",
                "subject": "математика",
                "grade": 5,
                "year": 2025,
                "participants": 30,
                "mean_score": mean,
                "mark_shares": {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
                "recorded_at": version.isoformat(),
            },
        )

    def training(version: datetime, hours: int) -> tuple[str, bytes, bytes, dict[str, str]]:
        return fact(
            topics.REGIONAL_TRAININGS,
            "training.completed",
            {
                "source_system": "courses",
                "external_id": "T-1",
                "educator_id": educator,
                "organization": host,
                "course": "Формирующее оценивание",
                "provider": "ИРО",
                "hours": hours,
                "completed_on": "2025-04-01",
                "recorded_at": version.isoformat(),
            },
        )

    def deficit(version: datetime, level: str) -> tuple[str, bytes, bytes, dict[str, str]]:
        return fact(
            topics.REGIONAL_DEFICITS,
            "deficit.diagnosed",
            {
                "source_system": "diagnostics",
                "external_id": "D-1",
                "educator_id": educator,
                "organization": host,
                "competency": "формирующее оценивание",
                "level": level,
                "diagnosed_on": "2025-03-01",
                "recorded_at": version.isoformat(),
            },
        )

    async def send(*messages: tuple[str, bytes, bytes, dict[str, str]]) -> None:
        for topic, key, value, headers in messages:
            await produce(broker.bootstrap, topic, [(key, value, headers)])

    async with service.running():
        await service.connected.wait()
        # the older attendance comes first, while its activity is unknown: it is parked
        await send(attendance(OLD, 1.0))
        await eventually(lambda: rows(world.db, "SELECT event_id FROM deferred"))
        await send(
            activity(NEW, "Семинар (новая версия)"),
            attendance(NEW, 2.5),
            activity(OLD, "Семинар (старая версия)"),
            assessment(NEW, 4.2),
            assessment(OLD, 3.1),
            training(NEW, 72),
            training(OLD, 36),
            deficit(NEW, "low"),
            deficit(OLD, "high"),
        )

        async def settled() -> bool:
            waiting = await rows(world.db, "SELECT event_id FROM deferred")
            applied = await rows(world.db, "SELECT count(*) FROM deficit")
            return not waiting and applied[0][0] == 1

        await eventually(settled, timeout=60)

    assert await rows(world.db, "SELECT title FROM activity") == [("Семинар (новая версия)",)]
    assert await rows(world.db, "SELECT hours FROM attendance") == [(2.5,)]
    assert await rows(world.db, "SELECT mean_score FROM assessment_result") == [(4.2,)]
    assert await rows(world.db, "SELECT hours FROM training") == [(72,)]
    assert await rows(world.db, "SELECT level FROM deficit") == [("low",)]


async def test_a_fact_with_the_same_id_from_two_sources_is_applied_for_each(
    broker: Any, world: World
) -> None:
    """The inbox knows an event by its source and id: another sender's id collision loses nothing."""
    url = world.db.url
    service = events.build(
        EventsSettings(
            database_url=url, kafka_bootstrap_servers=broker.bootstrap, consumer_graceful_seconds=2
        )
    )
    shared_id = str(uuid.uuid4())
    messages = []
    for source, subject in (("/regional/rcoi-a", "физика"), ("/regional/rcoi-b", "химия")):
        data = {
            "source_system": source.rsplit("/", 1)[1],
            "external_id": subject,
            "organization": {"id": str(world.host)},
            "procedure": "oge",
            "subject": subject,
            "grade": 9,
            "year": 2025,
            "participants": 20,
            "mean_score": 3.5,
            "mark_shares": {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
            "recorded_at": NOW.isoformat(),
        }
        event = CloudEvent(
            type="setka.regional.assessment.published.v1", source=source, data=data, id=shared_id
        )
        messages.append((b"k", event.body(), event.headers()))
    async with service.running():
        await produce(broker.bootstrap, topics.REGIONAL_ASSESSMENTS, messages)

        async def both() -> bool:
            return (await rows(world.db, "SELECT count(*) FROM assessment_result"))[0][0] == 2

        await eventually(both, timeout=60)
