"""Done when: poison of every kind, each followed by valid messages of the same key, stalls nothing.

A plain aiokafka producer (as a regional system would) sends to ``regional.assessments`` and
``regional.activities``, under ONE key, valid facts with poison between them: deeply nested JSON,
NaN, a body over the size limit, wrong types, an unknown type, a non-UTF-8 header, a datetime
without an offset beside one with an offset. Every valid fact is applied, every poison is in the
topic's dead-letter topic exactly once with a reason a sender can act on, and the events service
is ready afterwards.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from setka_contracts import CloudEvent, topics
from setka_contracts.registry import OrganizationRegistered
from setka_runtime.db import Database
from sqlalchemy import text

from services.events import app as events
from services.events.settings import EventsSettings
from tests.helpers import eventually, headers_of, read_topic


async def until_ready(service: Any) -> None:
    """Every consumer group of the service consuming (the notifier's joins last) and nothing waiting."""

    async def ready() -> bool:
        try:
            await service.consumers_ping()
        except ConnectionError:
            return False
        return True

    await eventually(ready, timeout=60)


pytestmark = pytest.mark.integration

WEIGHTS = (2, 4, 10, 3, 5, 9, 4, 6, 8)
KEY = b"poisoned-key"


def inn(body: str) -> str:
    return body + str(sum(int(d) * w for d, w in zip(body, WEIGHTS, strict=True)) % 11 % 10)


SCHOOL, SCHOOL_INN = uuid.uuid4(), inn("390200001")
NOW = datetime.now(UTC).replace(microsecond=0)


def assessment(number: int, **overrides: Any) -> dict[str, Any]:
    return {
        "source_system": "rcoi",
        "external_id": f"R-{number}",
        "organization": {"inn": SCHOOL_INN},
        "procedure": "vpr",
        "subject": f"предмет {number}",
        "grade": 5,
        "year": 2025,
        "participants": 40,
        "mean_score": 3.9,
        "mark_shares": {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
        "recorded_at": (NOW - timedelta(hours=1)).isoformat(),
        **overrides,
    }


def headers(event_type: str, **extra: str) -> list[tuple[str, bytes]]:
    base = {
        "ce_specversion": "1.0",
        "ce_id": str(uuid.uuid4()),
        "ce_type": event_type,
        "ce_source": "/regional/rcoi",
        "content-type": "application/json",
        **extra,
    }
    return [(name, value.encode()) for name, value in base.items()]


ASSESSMENT = "setka.regional.assessment.published.v1"
ACTIVITY = "setka.regional.activity.recorded.v1"


def valid(number: int) -> tuple[bytes, list[tuple[str, bytes]]]:
    return json.dumps(assessment(number), ensure_ascii=False).encode(), headers(ASSESSMENT)


def poison() -> list[tuple[str, bytes, list[tuple[str, bytes]], str]]:
    """(name, body, headers, a fragment the dead-letter reason must contain)"""
    deep = b"[" * 100_000 + b"]" * 100_000
    nan = json.dumps(assessment(900)).replace('"mean_score": 3.9', '"mean_score": NaN').encode()
    wrong = json.dumps(assessment(901, grade="пятый", participants=[1])).encode()
    oversize = json.dumps(assessment(902, subject="a" * 1_200_000)).encode()
    bad_header = headers(ASSESSMENT)
    bad_header.append(("x-origin", b"\xff\xfe\xfa"))
    bad_header_body = json.dumps(assessment(903, participants=10**12)).encode()
    return [
        ("deep nesting", deep, headers(ASSESSMENT), "envelope"),
        ("NaN", nan, headers(ASSESSMENT), "NaN"),
        ("wrong types", wrong, headers(ASSESSMENT), "grade"),
        ("oversize", oversize, headers(ASSESSMENT), "bytes"),
        ("unknown type", b"{}", headers("setka.regional.something.v1"), "not accepted"),
        ("out of range, bad header bytes", bad_header_body, bad_header, "participants"),
    ]


def activity(external_id: str, starts_at: str, ends_at: str) -> bytes:
    return json.dumps(
        {
            "source_system": "rcoi",
            "external_id": external_id,
            "title": "Семинар",
            "activity_type": "seminar",
            "host": {"inn": SCHOOL_INN},
            "starts_at": starts_at,
            "ends_at": ends_at,
            "updated_at": NOW.isoformat(),
        }
    ).encode()


def mixed_offsets() -> bytes:
    return activity("A-1", "2025-03-01T10:00:00", "2025-03-01T12:00:00+03:00")


def before_year_one() -> bytes:
    """Moments with no UTC equivalent: 00:00 on 1 January of year 1 at +14:00 is in year 0 in UTC."""
    return activity("A-2", "0001-01-01T00:00:00+14:00", "0001-01-01T02:00:00+14:00")


def events_service(broker: Any, url: str, **settings: Any) -> Any:
    """The events service on the test's broker and database, quick to retry and to stop."""
    return events.build(
        EventsSettings(
            database_url=url,
            kafka_bootstrap_servers=broker.bootstrap,
            consumer_max_attempts=3,
            consumer_backoff_seconds=0.05,
            consumer_graceful_seconds=2,
            **settings,
        )
    )


def school_registered(short_name: str) -> CloudEvent:
    """The registry's event that makes the test's school known to the events service."""
    school = OrganizationRegistered(
        organization_id=SCHOOL,
        full_name=f"МБОУ {short_name}",
        short_name=short_name,
        kind="school",
        region_code="39",
        inn=SCHOOL_INN,
        registered_at=NOW,
    )
    return CloudEvent(type=school.event_type, source="/setka/registry", data=school.model_dump(mode="json"))


async def scalar(url: str, sql: str) -> Any:
    db = Database(url)
    try:
        async with db.session() as session:
            return await session.scalar(text(sql))
    finally:
        await db.dispose()


async def test_poison_of_every_kind_is_dead_lettered_once_and_the_same_key_flows_on(
    broker: Any, service_databases: dict[str, str]
) -> None:
    url = service_databases["events"]
    service = events_service(broker, url)
    registered = school_registered("СОШ (яды)")
    poisons = poison()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", max_request_size=8_000_000)
    async with service.running():
        await producer.start()
        try:
            await producer.send_and_wait(
                topics.REGISTRY,
                registered.body(),
                key=str(SCHOOL).encode(),
                headers=[(k, v.encode()) for k, v in registered.headers().items()],
            )
            await eventually(lambda: scalar(url, "SELECT count(*) FROM known_organization"), timeout=60)
            number = 0
            for _, body, poison_headers, _ in poisons:
                number += 1
                await producer.send_and_wait(
                    topics.REGIONAL_ASSESSMENTS, body, key=KEY, headers=poison_headers
                )
                body, good = valid(number)
                await producer.send_and_wait(topics.REGIONAL_ASSESSMENTS, body, key=KEY, headers=good)
            for message in (mixed_offsets(), before_year_one()):
                await producer.send_and_wait(
                    topics.REGIONAL_ACTIVITIES, message, key=KEY, headers=headers(ACTIVITY)
                )
        finally:
            await producer.stop()

        async def all_valid_applied() -> bool:
            return await scalar(url, "SELECT count(*) FROM assessment_result") == len(poisons)

        await eventually(all_valid_applied, timeout=60)
        dead = await read_topic(
            broker.bootstrap, topics.dead_letter(topics.REGIONAL_ASSESSMENTS), at_least=len(poisons)
        )
        dead_activities = await read_topic(
            broker.bootstrap, topics.dead_letter(topics.REGIONAL_ACTIVITIES), at_least=2
        )
        await until_ready(service)

    assert len(dead) == len(poisons), [headers_of(d)["dlq_reason"] for d in dead]
    for (name, _, _, fragment), letter in zip(poisons, dead, strict=True):
        reason = headers_of(letter)["dlq_reason"]
        assert fragment in reason, (name, reason)
        assert letter.key == KEY
    assert len(dead_activities) == 2
    assert (
        "offset" in headers_of(dead_activities[0])["dlq_reason"]
        or "timezone" in (headers_of(dead_activities[0])["dlq_reason"])
    )
    assert "must not be before 2000-01-01" in headers_of(dead_activities[1])["dlq_reason"]
    assert await scalar(url, "SELECT count(*) FROM activity") == 0


async def test_ids_that_differ_only_in_bytes_that_are_not_utf8_are_both_dead_lettered(
    broker: Any, service_databases: dict[str, str]
) -> None:
    """Two facts whose ``ce_id`` differ only in bytes that are not UTF-8 are not one fact: both are
    dead-lettered with the reason (neither is taken for a repeat of the other), and what follows
    them under the same key is applied. Such bytes in another header pass through the waiting room
    and the dead-letter topic as ``\\xNN`` text."""
    url = service_databases["events"]
    service = events_service(broker, url, unknown_wait_seconds=2, unknown_retry_seconds=0.2)
    registered = school_registered("СОШ (байты)")

    def with_id(ce_id: bytes) -> list[tuple[str, bytes]]:
        return [(name, ce_id if name == "ce_id" else value) for name, value in headers(ASSESSMENT)]

    unknown_school = json.dumps(assessment(3, organization={"inn": inn("390299999")})).encode()
    waits = [*headers(ASSESSMENT), ("x-origin", b"\xff\xfe")]
    async with service.running():
        await produce_all(
            broker.bootstrap,
            [
                (
                    topics.REGISTRY,
                    registered.body(),
                    [(k, v.encode()) for k, v in registered.headers().items()],
                ),
            ],
            key=str(SCHOOL).encode(),
        )
        await eventually(lambda: scalar(url, "SELECT count(*) FROM known_organization"), timeout=60)
        await produce_all(
            broker.bootstrap,
            [
                (topics.REGIONAL_ASSESSMENTS, valid(1)[0], with_id(b"fact-\xff")),
                (topics.REGIONAL_ASSESSMENTS, valid(2)[0], with_id(b"fact-\xfe")),
                (topics.REGIONAL_ASSESSMENTS, unknown_school, waits),
                (topics.REGIONAL_ASSESSMENTS, *valid(4)),
            ],
            key=KEY,
        )
        await eventually(
            lambda: scalar(url, "SELECT count(*) FROM assessment_result WHERE external_id = 'R-4'"),
            timeout=60,
        )
        dead = await read_topic(broker.bootstrap, topics.dead_letter(topics.REGIONAL_ASSESSMENTS), at_least=3)
        await until_ready(service)

    assert await scalar(url, "SELECT count(*) FROM assessment_result") == 1
    assert await scalar(url, "SELECT count(*) FROM deferred") == 0
    assert len(dead) == 3, [headers_of(d)["dlq_reason"] for d in dead]
    letters = [headers_of(letter) for letter in dead]  # every header of a letter is valid UTF-8
    assert [letter["ce_id"] for letter in letters[:2]] == ["fact-\\xff", "fact-\\xfe"]
    assert letters[0]["dlq_reason"] == "invalid envelope: header ce_id is not valid UTF-8 (byte 0xff at 5)"
    assert letters[1]["dlq_reason"] == "invalid envelope: header ce_id is not valid UTF-8 (byte 0xfe at 5)"
    assert [dead[0].value, dead[1].value] == [valid(1)[0], valid(2)[0]]
    assert all(letter.key == KEY for letter in dead)
    assert "still refers to something unknown" in letters[2]["dlq_reason"]
    assert letters[2]["x-origin"] == "\\xff\\xfe"
    assert dead[2].value == unknown_school


async def produce_all(
    bootstrap: str, messages: list[tuple[str, bytes, list[tuple[str, bytes]]]], *, key: bytes
) -> None:
    """Send (topic, body, raw headers) in order under one key, as a regional system would."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, body, raw in messages:
            await producer.send_and_wait(topic, body, key=key, headers=raw)
    finally:
        await producer.stop()
