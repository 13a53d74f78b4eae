"""Regional activities and attendance applied a batch at a time, as the consumer reads them.

A batch with a fact that breaks a rule: that fact alone goes to the dead-letter topic with its
reason, the others of the batch are applied, and every event recorded keeps the trace context of
the message it came from (not only the first message's).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from setka_contracts import CloudEvent, topics
from setka_runtime.consumer import GuardedConsumer, Record
from setka_runtime.db import Database
from sqlalchemy import text

from services.events.admission import Admission
from services.events.regional import INBOUND
from tests.conftest import DatabaseFactory
from tests.integration.events_world import World, make_world

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC).replace(microsecond=0)
SYSTEM = "kripkro-lms"


@pytest.fixture
async def world(databases: DatabaseFactory) -> AsyncIterator[World]:
    async for made in make_world(databases, "batches"):
        yield made


class Letters:
    """The dead-letter topic as the consumer publishes to it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, str]]] = []

    async def publish(self, value: bytes, topic: str, *, key: Any = None, headers: dict[str, str]) -> None:
        self.sent.append((topic, headers))


def consumer(world: World, topic: str, letters: Letters) -> GuardedConsumer:
    made = GuardedConsumer(
        topic=topic, group="setka.events", db=world.db, broker=letters, handlers=INBOUND[topic]
    )
    made.reject_unknown_types = True
    made.gate = Admission(unregistered="accept").check
    return made


def traced(kind: str, data: dict[str, Any]) -> tuple[Record, str]:
    """A fact as a record with a trace context of its own; returns it and its trace id."""
    trace_id = uuid.uuid4().hex
    event = CloudEvent(type=f"setka.regional.{kind}.v1", source="/regional/kripkro-lms", data=data)
    headers = event.headers() | {"ce_traceparent": f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01"}
    return Record(value=event.body(), headers=headers, key=None, partition=0, offset=0), trace_id


def activity(external_id: str, host: uuid.UUID, *, starts: datetime, status: str = "held") -> dict[str, Any]:
    return {
        "source_system": SYSTEM,
        "external_id": external_id,
        "title": f"Семинар {external_id}",
        "activity_type": "seminar",
        "processes": ["experience_exchange"],
        "host": {"id": str(host)},
        "starts_at": starts.isoformat(),
        "ends_at": (starts + timedelta(hours=4)).isoformat(),
        "status": status,
        "updated_at": NOW.isoformat(),
    }


def attendance(external_id: str, organization: uuid.UUID, hours: float) -> dict[str, Any]:
    return {
        "source_system": SYSTEM,
        "external_id": f"att-{external_id}-{organization}",
        "activity_external_id": external_id,
        "organization": {"id": str(organization)},
        "hours": hours,
        "recorded_at": NOW.isoformat(),
    }


async def rows(db: Database, sql: str) -> list[Any]:
    async with db.session() as session:
        return list((await session.execute(text(sql))).all())


async def traces_of(db: Database, event_type: str) -> set[str]:
    found = await rows(db, f"SELECT traceparent FROM outbox WHERE event_type = '{event_type}'")
    return {parent.split("-")[1] for (parent,) in found}


async def test_a_bad_activity_in_a_batch_is_dead_lettered_alone_and_the_others_are_applied(
    world: World,
) -> None:
    letters = Letters()
    past, future = NOW - timedelta(days=3), NOW + timedelta(days=3)
    (first, first_trace), (bad, _), (last, last_trace) = (
        traced("activity.recorded", activity("A-1", world.host, starts=past)),
        traced("activity.recorded", activity("A-2", world.host, starts=future)),
        traced("activity.recorded", activity("A-3", world.host, starts=past)),
    )

    outcomes = await consumer(world, topics.REGIONAL_ACTIVITIES, letters).process([first, bad, last])

    assert outcomes == ["processed", "dead-lettered", "processed"]
    assert [topic for topic, _ in letters.sent] == [f"{topics.REGIONAL_ACTIVITIES}.dlq"]
    reason = letters.sent[0][1]["dlq_reason"]
    assert reason.startswith("rejected: status is held but the activity starts in the future"), reason
    assert await rows(world.db, "SELECT external_id FROM activity ORDER BY external_id") == [
        ("A-1",),
        ("A-3",),
    ]
    assert await traces_of(world.db, "setka.events.activity.planned.v1") == {first_trace, last_trace}


async def test_a_bad_attendance_in_a_batch_is_dead_lettered_alone_and_the_others_are_applied(
    world: World,
) -> None:
    letters = Letters()
    past = NOW - timedelta(days=3)
    planned = activity("A-1", world.host, starts=past, status="planned")
    seminar, _ = traced("activity.recorded", planned)
    assert await consumer(world, topics.REGIONAL_ACTIVITIES, letters).process([seminar]) == ["processed"]
    (host, host_trace), (too_long, _), (former, former_trace) = (
        traced("attendance.recorded", attendance("A-1", world.host, 2.0)),
        traced("attendance.recorded", attendance("A-1", world.outsider, 9.0)),
        traced("attendance.recorded", attendance("A-1", world.former, 3.5)),
    )

    outcomes = await consumer(world, topics.REGIONAL_ATTENDANCE, letters).process([host, too_long, former])

    assert outcomes == ["processed", "dead-lettered", "processed"]
    assert [topic for topic, _ in letters.sent] == [f"{topics.REGIONAL_ATTENDANCE}.dlq"]
    reason = letters.sent[0][1]["dlq_reason"]
    assert reason.startswith("rejected: hours: Больше, чем длилось мероприятие"), reason
    assert reason.endswith("[HOURS_EXCEED_LENGTH]"), reason
    kept = await rows(world.db, "SELECT organization_id, hours FROM attendance ORDER BY hours")
    assert kept == [(world.host, 2.0), (world.former, 3.5)]
    # the regional system records what took place: the activity is held from its first attendance
    assert await rows(world.db, "SELECT status FROM activity") == [("held",)]
    assert await traces_of(world.db, "setka.events.activity.attendance_recorded.v1") == {
        host_trace,
        former_trace,
    }
    assert await traces_of(world.db, "setka.events.activity.held.v1") == {host_trace}
