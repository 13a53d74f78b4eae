"""Guarded consumers against a real Tansu broker and PostgreSQL: DLQ, retries, redelivery."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from setka_contracts import CloudEvent, topics
from setka_contracts.registry import OrganizationRegistered
from setka_runtime.db import Database
from sqlalchemy import text

from services.analytics import app as analytics
from services.analytics.projections import organization_registered
from services.analytics.settings import AnalyticsSettings
from tests.conftest import Broker
from tests.helpers import eventually, headers_of, produce, read_topic

pytestmark = pytest.mark.integration


def registration(region: str, **extra: Any) -> CloudEvent:
    data = {
        "organization_id": str(uuid.uuid4()),
        "full_name": "МБОУ СОШ (тест)",
        "short_name": "СОШ (тест)",
        "kind": "school",
        "region_code": region,
        "registered_at": datetime.now(UTC).isoformat(),
        **extra,
    }
    return CloudEvent(type=OrganizationRegistered.event_type, source="/test/regional-system", data=data)


def wire(event: CloudEvent) -> tuple[bytes, bytes, dict[str, str]]:
    return event.data["organization_id"].encode(), event.body(), event.headers()


def settings_for(broker: Any, database_url: str) -> AnalyticsSettings:
    return AnalyticsSettings(
        database_url=database_url,
        kafka_bootstrap_servers=broker.bootstrap,
        consumer_max_attempts=3,
        consumer_backoff_seconds=0.05,
        consumer_graceful_seconds=2,
    )


async def count_in(database_url: str, region: str) -> int:
    db = Database(database_url)
    try:
        async with db.session() as session:
            value = await session.scalar(
                text("SELECT organizations FROM region_summary WHERE region_code = :r"), {"r": region}
            )
        return int(value or 0)
    finally:
        await db.dispose()


async def test_poison_messages_go_to_the_dlq_with_their_reason_while_the_stream_flows(
    broker: Any, service_databases: dict[str, str]
) -> None:
    url = service_databases["analytics"]
    service = analytics.build(settings_for(broker, url))
    first, second, third = registration("91"), registration("91"), registration("91", future_field=[1, 2])
    valid_headers = first.headers()
    wrong_schema = registration("91")
    del wrong_schema.data["short_name"]
    no_id = {k: v for k, v in registration("91").headers().items() if k != "ce_id"}
    unknown_type = CloudEvent(type="setka.registry.something.else.v1", source="/test", data={"x": 1})
    messages = [
        wire(first),
        (b"poison-1", b'{"organization_id": "broken', valid_headers | {"ce_id": str(uuid.uuid4())}),
        wire(second),
        wire(wrong_schema),
        (b"poison-3", first.body(), no_id),
        wire(first),  # redelivery of the same ce_id: counted once
        wire(third),
        (b"other", unknown_type.body(), unknown_type.headers()),
    ]
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        await produce(broker.bootstrap, topics.REGISTRY, messages)
        await eventually(lambda: _equals(count_in(url, "91"), 3))
        dead = await read_topic(broker.bootstrap, topics.dead_letter(topics.REGISTRY), at_least=3)

    assert await count_in(url, "91") == 3
    reasons = sorted(headers_of(record)["dlq_reason"] for record in dead)
    assert len(dead) == 3, reasons
    assert (
        "does not match setka.registry.organization.registered.v1: short_name: Field required" in reasons[0]
    )
    assert reasons[1].startswith("invalid envelope: data is not valid JSON")
    assert reasons[2] == "invalid envelope: missing CloudEvents headers: ce_id"
    by_key = {record.key: record for record in dead}
    assert by_key[b"poison-1"].value == b'{"organization_id": "broken'
    original = headers_of(by_key[b"poison-1"])
    assert original["ce_type"] == OrganizationRegistered.event_type
    assert original["dlq_topic"] == topics.REGISTRY and original["dlq_consumer"] == "setka.analytics"
    assert original["dlq_offset"].isdigit() and original["dlq_partition"].isdigit()


async def _equals(value: Any, expected: Any) -> bool:
    return (await value) == expected


async def test_a_failing_handler_is_retried_then_dead_lettered_without_blocking_the_partition(
    broker: Any, service_databases: dict[str, str]
) -> None:
    url = service_databases["analytics"]
    service = analytics.Service.create(settings_for(broker, url))
    calls: dict[str, int] = {}

    async def flaky(session: Any, data: OrganizationRegistered, event: CloudEvent) -> None:
        calls[event.id] = calls.get(event.id, 0) + 1
        if data.full_name == "always fails":
            raise RuntimeError("the projection is broken")
        if data.full_name == "fails twice" and calls[event.id] <= 2:
            raise RuntimeError("a passing fault")
        await organization_registered(session, data, event)

    service.consume(topics.REGISTRY, {OrganizationRegistered: flaky})
    key = str(uuid.uuid4()).encode()  # one key: the three follow each other on one partition
    events = [
        registration("92", full_name="fails twice"),
        registration("92", full_name="always fails"),
        registration("92", full_name="fine"),
    ]
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        await produce(broker.bootstrap, topics.REGISTRY, [(key, *wire(e)[1:]) for e in events])
        await eventually(lambda: _equals(count_in(url, "92"), 2))
        dead = await read_topic(broker.bootstrap, topics.dead_letter(topics.REGISTRY), at_least=1)

    # a batch that fails is applied again one message at a time: the always failing message may
    # have had one try in its batch before its own three
    assert calls[events[0].id] == 3
    assert calls[events[1].id] in (3, 4)
    assert calls[events[2].id] == 1
    assert len(dead) == 1
    assert headers_of(dead[0])["ce_id"] == events[1].id
    assert headers_of(dead[0])["dlq_reason"] == (
        "failed after 3 attempts: RuntimeError: the projection is broken"
    )
    assert json.loads(dead[0].value)["full_name"] == "always fails"


async def test_an_unavailable_database_is_waited_out_not_counted_as_attempts(
    broker: Any, service_databases: dict[str, str]
) -> None:
    """More connection failures than attempts: nothing is dead-lettered, readiness says why meanwhile."""
    url = service_databases["analytics"]
    service = analytics.Service.create(settings_for(broker, url))
    failures = {"left": 6}
    readiness: list[str] = []

    async def unreachable_for_a_while(session: Any, data: OrganizationRegistered, event: CloudEvent) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            try:
                await service.consumers_ping()
            except ConnectionError as exc:
                readiness.append(str(exc))
            raise ConnectionRefusedError("connection refused by 127.0.0.1:5432")
        await organization_registered(session, data, event)

    service.consume(topics.REGISTRY, {OrganizationRegistered: unreachable_for_a_while})
    events = [registration("93") for _ in range(3)]
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        await produce(broker.bootstrap, topics.REGISTRY, [wire(e) for e in events])
        await eventually(lambda: _equals(count_in(url, "93"), 3))
        await service.consumers_ping()  # ready again
    dead = await read_topic(broker.bootstrap, topics.dead_letter(topics.REGISTRY), at_least=0, timeout=2)
    assert [m for m in dead if headers_of(m)["ce_id"] in {e.id for e in events}] == []
    assert failures["left"] == 0
    assert any("connection refused" in reason for reason in readiness)


async def test_attendance_before_its_activity_waits_and_is_applied_once_the_activity_arrives(
    broker: Any, service_databases: dict[str, str]
) -> None:
    """Analytics' waiting room: nothing is dead-lettered, the attendance lands with the activity's day."""
    from setka_contracts.events import ActivityPlanned, AttendanceRecorded

    url = service_databases["analytics"]
    settings = settings_for(broker, url).model_copy(update={"unknown_retry_seconds": 0.2})
    service = analytics.build(settings)
    activity = uuid.uuid4()
    starts = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
    attendance = AttendanceRecorded(
        activity_id=activity, attendance_id=uuid.uuid4(), organization_id=uuid.uuid4(), hours=2.0
    )
    planned = ActivityPlanned(
        activity_id=activity,
        title="Семинар",
        activity_type="seminar",
        format="in_person",
        host_organization_id=uuid.uuid4(),
        starts_at=starts,
        ends_at=starts.replace(hour=11),
    )

    def message(data: Any) -> tuple[bytes, bytes, dict[str, str]]:
        event = CloudEvent(type=data.event_type, source="/setka/events", data=data.model_dump(mode="json"))
        return str(activity).encode(), event.body(), event.headers()

    async def kept_day() -> Any:
        db = Database(url)
        try:
            async with db.session() as session:
                return await session.scalar(text("SELECT activity_day FROM attendance"))
        finally:
            await db.dispose()

    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        await produce(broker.bootstrap, topics.EVENTS, [message(attendance)])
        await asyncio.sleep(2)
        assert await kept_day() is None, "the attendance waits for its activity"
        await produce(broker.bootstrap, topics.EVENTS, [message(planned)])
        await eventually(lambda: _equals(kept_day(), starts.date()), timeout=30)
    dead = await read_topic(broker.bootstrap, topics.dead_letter(topics.EVENTS), at_least=0, timeout=2)
    assert dead == []


async def test_a_committed_offset_beyond_the_end_of_the_log_is_read_again_from_the_start(
    broker: Any, service_databases: dict[str, str]
) -> None:
    """A broker that lost a partition's log (or a commit that reached a broker it was not meant
    for) leaves the group's offset past the log's end: the consumer must not wait there for
    messages that will never get those offsets; it reads what exists from the start."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from setka_runtime.kafka import ensure_topics

    url = service_databases["analytics"]
    await ensure_topics(broker.bootstrap, [topics.REGISTRY], partitions=3)
    await produce(broker.bootstrap, topics.REGISTRY, [wire(registration("92")) for _ in range(4)])
    stale = AIOKafkaConsumer(
        bootstrap_servers=broker.bootstrap, group_id="setka.analytics", enable_auto_commit=False
    )
    await stale.start()
    try:
        partitions = [TopicPartition(topics.REGISTRY, p) for p in range(3)]
        stale.assign(partitions)
        await stale.commit(dict.fromkeys(partitions, 1000))
    finally:
        await stale.stop()

    service = analytics.build(settings_for(broker, url))
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        await eventually(lambda: _equals(count_in(url, "92"), 4), timeout=60)
        resets = [r for s in service.subscriptions for r in s.resets if r.topic == topics.REGISTRY]
    if isinstance(broker, Broker):  # Tansu: it answers such a fetch with nothing at all
        # (Apache Kafka answers OFFSET_OUT_OF_RANGE, and the client resets to the earliest by itself)
        assert resets, "the group read the registry topic without noticing its offsets were past the end"
    assert all(r.start == 0 for r in resets)
    assert all(r.position is None or r.position == 1000 for r in resets)
