"""Personal data with an end (152-ФЗ), over a real broker, on PostgreSQL.

An educator with a distinctive name is registered, takes part in a regional activity (attendance
in the events service and in analytics), and is present where a deployment from before the
educator events stopped carrying names may still hold them: a relayed v1 row of the registry's
outbox, a waiting regional message with an integrator's extra field naming them in the events
service's waiting room, and a dead letter on ``setka.registry.dlq``. A regional admin erases them:
afterwards no table of any service's database and no topic a consumer can read holds the name,
and the figures are the same. Then: the retention after leaving erases by itself; imports,
re-drives, rebuilds and erasures are audited; the audit trail's retention deletes old entries.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import REGISTRY
from setka_contracts import CloudEvent, topics
from setka_contracts.audit import AuditRecorded
from setka_contracts.regional import ActivityRecordedByRegion, AttendanceRecordedByRegion
from setka_contracts.registry import ERASED_NAME, EducatorUpdatedV1
from setka_runtime import deadletters
from setka_runtime.access import Identity, Role
from setka_runtime.db import Database
from setka_runtime.deferred import deferred
from setka_runtime.service import Service
from setka_runtime.tables import inbox, outbox
from sqlalchemy import func, inspect, select, text

from services.analytics import app as analytics
from services.analytics import audit_retention, rebuild
from services.analytics.models import Attendance as AnalyticsAttendance
from services.analytics.models import AuditEntry
from services.analytics.models import Educator as AnalyticsEducator
from services.analytics.models import Employment as AnalyticsEmployment
from services.analytics.settings import AnalyticsSettings
from services.events import app as events
from services.events.models import Attendance as EventsAttendance
from services.events.models import KnownEducator
from services.events.settings import EventsSettings
from services.registry import app as registry
from services.registry import educators, erasure
from services.registry.importing.cli import import_file
from services.registry.importing.mapping import ImportKind
from services.registry.models import Educator
from services.registry.settings import RegistrySettings
from tests.helpers import eventually, produce
from tests.integration.test_corrections_flow import SECRET, ask, build_registry_world

pytestmark = pytest.mark.integration

LAST, FIRST, MIDDLE = "Забывайлова", "Евдокия", "Стираемовна"
FULL = f"{LAST} {FIRST} {MIDDLE}"
ADMIN = Identity("admin-39", frozenset({Role.regional_admin}), "39")
OTHER_ADMIN = Identity("admin-08", frozenset({Role.regional_admin}), "08")

REGISTER = """mutation($i: RegisterEducatorInput!) { registerEducator(input: $i) {
  __typename ... on Educator { id } ... on ValidationError { field message code } } }"""
ERASE = """mutation($id: ID!) { eraseEducator(id: $id, reason: "заявление № 7 от 01.12.2026") {
  __typename ... on Educator { id lastName firstName middleName externalId erasedAt erasureCause }
  ... on ValidationError { field message code } } }"""


@dataclass
class Stack:
    registry: Service
    events: Service
    analytics: Service
    world: dict[str, Any]


def common(broker: Any) -> dict[str, Any]:
    return {
        "kafka_bootstrap_servers": broker.bootstrap,
        "internal_token_secret": SECRET,
        "outbox_poll_seconds": 0.2,
        "consumer_backoff_seconds": 0.05,
        "consumer_graceful_seconds": 2,
    }


@pytest.fixture
async def stack(broker: Any, service_databases: dict[str, str]) -> AsyncIterator[Stack]:
    services = (
        registry.build(RegistrySettings(database_url=service_databases["registry"], **common(broker))),
        events.build(EventsSettings(database_url=service_databases["events"], **common(broker))),
        analytics.build(AnalyticsSettings(database_url=service_databases["analytics"], **common(broker))),
    )
    world = await build_registry_world(services[0].db)
    async with contextlib.AsyncExitStack() as running:
        for service in services:
            await running.enter_async_context(service.running())
        await asyncio.gather(*(asyncio.wait_for(s.connected.wait(), 60) for s in services))
        yield Stack(*services, world=world)


async def texts_holding(db: Database, needle: str) -> list[str]:
    """Every ``table.column`` of the database with a value holding ``needle``: all tables, every
    text, JSON and binary column, read whole."""
    found: list[str] = []
    async with db.engine.connect() as connection:
        tables = await connection.run_sync(lambda sync: inspect(sync).get_table_names())
        for table in tables:
            rows = (await connection.execute(text(f'SELECT * FROM "{table}"'))).mappings().all()
            for row in rows:
                for column, value in row.items():
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("utf-8", "replace")
                    elif not isinstance(value, str):
                        value = json.dumps(value, ensure_ascii=False, default=str)
                    if needle.casefold() in value.casefold():
                        found.append(f"{table}.{column}")
    return sorted(set(found))


async def messages_holding(bootstrap: str, needle: str) -> list[str]:
    """Every topic (dead-letter topics included) whose messages, read from the beginning, hold
    ``needle`` in a key, a header or a value."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        names = [name for name in await admin.list_topics() if not name.startswith("__")]
    finally:
        await admin.close()
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    found: set[str] = set()
    wanted = needle.encode()
    try:
        assigned = [
            TopicPartition(name, partition)
            for name in names
            for partition in sorted(consumer.partitions_for_topic(name) or await _partitions(consumer, name))
        ]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        for _ in range(200):
            positions = [await consumer.position(tp) for tp in assigned]
            if all(position >= ends[tp] for position, tp in zip(positions, assigned, strict=True)):
                break
            for tp, records in (await consumer.getmany(timeout_ms=300)).items():
                for record in records:
                    parts = [
                        record.key or b"",
                        record.value or b"",
                        *(v or b"" for _, v in record.headers or []),
                    ]
                    if any(wanted in part for part in parts):
                        found.add(tp.topic)
    finally:
        await consumer.stop()
    return sorted(found)


async def _partitions(consumer: AIOKafkaConsumer, name: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(name) or set()


async def figures(stack: Stack, educator_id: uuid.UUID) -> dict[str, Any]:
    """What the educator counts for: attendance in both services, analytics' copy."""
    async with stack.events.db.session() as session:
        events_hours = await session.scalar(
            select(func.sum(EventsAttendance.hours)).where(EventsAttendance.educator_id == educator_id)
        )
    async with stack.analytics.db.session() as session:
        rows = await session.scalar(
            select(func.count()).where(AnalyticsAttendance.educator_id == educator_id)
        )
        hours = await session.scalar(
            select(func.sum(AnalyticsAttendance.hours)).where(AnalyticsAttendance.educator_id == educator_id)
        )
        copy = await session.get(AnalyticsEducator, educator_id)
        posts = await session.scalar(
            select(func.count()).where(AnalyticsEmployment.educator_id == educator_id)
        )
        educators_at_school = await session.scalar(
            select(func.count(func.distinct(AnalyticsEmployment.educator_id))).where(
                AnalyticsEmployment.organization_id == stack.world["home"]
            )
        )
    return {
        "events hours": events_hours,
        "analytics attendance": rows,
        "analytics hours": hours,
        "analytics category": copy.qualification_category if copy else None,
        "analytics posts": posts,
        "educators at the school": educators_at_school,
    }


async def plant_legacy_copies(stack: Stack, bootstrap: str, educator_id: uuid.UUID) -> None:
    """Where a deployment from before v2 still holds the name: a relayed v1 outbox row, a waiting
    message with an integrator's extra field, a dead letter."""
    home = stack.world["home"]
    legacy = EducatorUpdatedV1(
        educator_id=educator_id,
        last_name=LAST,
        first_name=FIRST,
        middle_name=MIDDLE,
        external_id="KRIPKRO-77-001",
        qualification_category="first",
    )
    now = datetime.now(UTC)
    async with stack.registry.db.session() as session, session.begin():
        await session.execute(
            outbox.insert().values(
                event_id=str(uuid.uuid4()),
                event_type=legacy.event_type,
                topic=legacy.topic,
                key=str(educator_id),
                source="/setka/registry",
                occurred_at=now - timedelta(days=400),
                payload=legacy.model_dump_json(),
                published_at=now - timedelta(days=400),
            )
        )
    waiting = AttendanceRecordedByRegion(
        source_system="test-lms",
        external_id="AT-waiting",
        activity_external_id="A-not-yet-known",
        organization={"id": home},
        educator_id=educator_id,
        hours=3,
        recorded_at=now,
    )
    payload = {**waiting.model_dump(mode="json"), "educator_name": FULL}
    async with stack.events.db.session() as session, session.begin():
        await session.execute(
            deferred.insert().values(
                consumer="setka.events|regional.attendance",
                source="/test-lms",
                event_id=str(uuid.uuid4()),
                topic=topics.REGIONAL_ATTENDANCE,
                event_type=waiting.event_type,
                key=b"AT-waiting",
                headers=json.dumps({"ce_type": waiting.event_type}),
                payload=json.dumps(payload, ensure_ascii=False).encode(),
                first_seen_at=now,
                next_attempt_at=now + timedelta(days=30),
                attempts=1,
                reason="activity A-not-yet-known is not known yet",
            )
        )
    letter = CloudEvent(type=legacy.event_type, source="/setka/registry", data=legacy.model_dump(mode="json"))
    headers = {**letter.headers(), "dlq_reason": "a v1 educator event the consumer could not apply"}
    other = CloudEvent(type="setka.registry.unknown.v1", source="/setka/registry", data={"x": 1})
    other_headers = {**other.headers(), "dlq_reason": "someone else's letter"}
    await produce(
        bootstrap,
        topics.dead_letter(topics.REGISTRY),
        [
            (b"someone-else", other.body(), other_headers),
            (str(educator_id).encode(), letter.body(), headers),
        ],
    )


async def test_an_erased_educator_is_named_nowhere_and_still_counted(broker: Any, stack: Stack) -> None:
    world = stack.world
    registered = await ask(
        stack.registry,
        registry.schema,
        ADMIN,
        REGISTER,
        i={
            "lastName": LAST,
            "firstName": FIRST,
            "middleName": MIDDLE,
            "qualificationCategory": "first",
            "posts": [{"organizationId": str(world["home"]), "position": "учитель математики"}],
        },
    )
    educator_id = uuid.UUID(registered["data"]["registerEducator"]["id"])

    async def known_everywhere() -> bool:
        async with stack.events.db.session() as session:
            known = await session.get(KnownEducator, educator_id)
        async with stack.analytics.db.session() as session:
            copy = await session.get(AnalyticsEducator, educator_id)
        return known is not None and copy is not None

    await eventually(known_everywhere, timeout=90)

    # the region's course system records an activity at the school and the educator's attendance
    start = datetime(2026, 11, 10, 10, tzinfo=UTC)
    activity = ActivityRecordedByRegion(
        source_system="test-lms",
        external_id="A-1",
        title="Семинар по функциональной грамотности",
        activity_type="seminar",
        host={"id": world["home"]},
        network_id=world["network"],
        starts_at=start,
        ends_at=start + timedelta(hours=4),
        status="held",
        updated_at=start,
    )
    attended = AttendanceRecordedByRegion(
        source_system="test-lms",
        external_id="AT-1",
        activity_external_id="A-1",
        organization={"id": world["home"]},
        educator_id=educator_id,
        hours=2,
        recorded_at=start + timedelta(hours=5),
    )
    for fact in (activity, attended):
        event = CloudEvent(type=fact.event_type, source="/test-lms", data=fact.model_dump(mode="json"))
        await produce(broker.bootstrap, fact.topic, [(fact.key().encode(), event.body(), event.headers())])

    async def counted() -> dict[str, Any] | None:
        found = await figures(stack, educator_id)
        return found if found["analytics hours"] == 2 and found["events hours"] == 2 else None

    before = await eventually(counted, timeout=90)
    await plant_legacy_copies(stack, broker.bootstrap, educator_id)
    assert await texts_holding(stack.registry.db, LAST) == [
        "educator.last_name",
        "educator.search_text",
        "outbox.payload",
    ]
    assert await texts_holding(stack.events.db, LAST) == ["deferred.payload"]
    assert await messages_holding(broker.bootstrap, LAST) == [topics.dead_letter(topics.REGISTRY)]

    # only a regional admin of the educator's region may erase
    foreign = await ask(stack.registry, registry.schema, OTHER_ADMIN, ERASE, id=str(educator_id))
    assert foreign["errors"][0]["extensions"]["code"] == "FORBIDDEN", foreign
    erased = (await ask(stack.registry, registry.schema, ADMIN, ERASE, id=str(educator_id)))["data"]
    answer = erased["eraseEducator"]
    assert answer["__typename"] == "Educator", answer
    assert (answer["lastName"], answer["firstName"], answer["middleName"], answer["externalId"]) == (
        ERASED_NAME,
        "",
        None,
        None,
    )
    assert answer["erasedAt"] and answer["erasureCause"] == "request"
    again = (await ask(stack.registry, registry.schema, ADMIN, ERASE, id=str(educator_id)))["data"]
    assert again["eraseEducator"]["code"] == "EDUCATOR_ERASED"

    async def erased_everywhere() -> bool:
        for db in (stack.events.db, stack.analytics.db):
            async with db.session() as session:
                taken = await session.scalar(
                    select(func.count()).where(inbox.c.event_type == "setka.registry.educator.erased.v1")
                )
            if not taken:
                return False
        return not await messages_holding(broker.bootstrap, LAST)

    await eventually(erased_everywhere, timeout=90)
    for db in (stack.registry.db, stack.events.db, stack.analytics.db):
        for needle in (LAST, FIRST, MIDDLE, "KRIPKRO-77-001"):
            assert await texts_holding(db, needle) == [], (db.url, needle)
    for needle in (LAST, MIDDLE, "KRIPKRO-77-001"):
        assert await messages_holding(broker.bootstrap, needle) == [], needle
    letters = await deadletters.read_letters(broker.bootstrap, topics.REGISTRY)
    assert [letter.key for letter in letters] == [b"someone-else"], "someone else's letter stays"
    async with stack.events.db.session() as session:
        still = (await session.execute(select(deferred.c.payload))).scalars().all()
    assert len(still) == 1 and json.loads(still[0])["educator_id"] == str(educator_id), "the fact still waits"

    assert await figures(stack, educator_id) == before

    async def audited() -> bool:
        async with stack.analytics.db.session() as session:
            entry = await session.scalar(select(AuditEntry).where(AuditEntry.operation == "eraseEducator"))
            purge = await session.scalar(select(AuditEntry).where(AuditEntry.operation == "purgeDeadLetters"))
        return (
            entry is not None
            and entry.subject == "admin-39"
            and entry.region_code == "39"
            and purge is not None
            and (purge.subject, purge.region_code) == ("admin-39", "39")
        )

    await eventually(audited, timeout=60)


async def test_an_educator_is_erased_a_set_time_after_leaving(
    broker: Any, service_databases: dict[str, str]
) -> None:
    settings = RegistrySettings(
        database_url=service_databases["registry"],
        personal_data_retention_after_leaving_days=30,
        erasure_interval_seconds=0.2,
        **common(broker),
    )
    service = registry.build(settings)
    world = await build_registry_world(service.db)
    today = datetime.now(UTC).date()
    async with service.db.session() as session, session.begin():
        left_long_ago = await educators.register_educator(
            session,
            educators.RegisterEducator(
                LAST, FIRST, posts=[educators.Post(world["home"], "учитель", date(2020, 9, 1))]
            ),
        )
        left_lately = await educators.register_educator(
            session,
            educators.RegisterEducator(
                "Недавняя", "Ушедшая", posts=[educators.Post(world["home"], "учитель", date(2020, 9, 1))]
            ),
        )
        working = await educators.register_educator(
            session,
            educators.RegisterEducator(
                "Работающая", "Ныне", posts=[educators.Post(world["home"], "учитель")]
            ),
        )
        ids = (left_long_ago.id, left_lately.id, working.id)
    for ident, ended in ((ids[0], today - timedelta(days=31)), (ids[1], today - timedelta(days=5))):
        async with service.db.session() as session, session.begin():
            post = (await educators.employments_of(session, [ident]))[ident][0]
            await educators.end_employment(session, post.id, ended)

    async with service.running():

        async def erased() -> bool:
            async with service.db.session() as session:
                row = await session.get(Educator, ids[0])
            purged = [
                e for e in await audit_entries_in_outbox(service.db) if e.operation == "purgeDeadLetters"
            ]
            return row is not None and row.erased_at is not None and bool(purged)

        await eventually(erased, timeout=60)
    async with service.db.session() as session:
        rows = {
            row.id: row for row in (await session.scalars(select(Educator).where(Educator.id.in_(ids)))).all()
        }
        audit_rows = (
            (
                await session.execute(
                    select(outbox.c.payload).where(outbox.c.topic == topics.AUDIT).order_by(outbox.c.id)
                )
            )
            .scalars()
            .all()
        )
    assert (rows[ids[0]].last_name, rows[ids[0]].erasure_cause) == (ERASED_NAME, "retention")
    assert rows[ids[1]].erased_at is None and rows[ids[2]].erased_at is None
    entries = [AuditRecorded.model_validate_json(payload) for payload in audit_rows]
    assert [(e.operation, e.subject) for e in entries] == [
        ("eraseEducator", "system:registry"),
        ("purgeDeadLetters", "system:registry"),
    ]
    assert entries[1].events[0].event_type == erasure.PURGED
    assert await texts_holding(service.db, LAST) == []
    await service.db.dispose()


async def test_a_failed_purge_is_told_and_erase_educator_runs_it_again(
    broker: Any,
    service_databases: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The broker refuses the purge (here: cannot be reached): the erasure stands, its audit says
    the dead letters were not removed, a metric counts it; ``erase-educator`` on the erased
    educator then purges by id and says so."""
    monkeypatch.setenv("SETKA_OPERATOR", "ivanova")
    db = Database(service_databases["registry"])
    try:
        world = await build_registry_world(db)
        async with db.session() as session, session.begin():
            educator = await educators.register_educator(
                session,
                educators.RegisterEducator(LAST, FIRST, posts=[educators.Post(world["home"], "учитель")]),
            )
        ident = educator.id
        attendance_dlq = topics.dead_letter(topics.REGIONAL_ATTENDANCE)
        await produce(
            broker.bootstrap,
            attendance_dlq,
            [
                (b"theirs", json.dumps({"educator_id": str(ident)}).encode(), {"dlq_reason": "rejected: x"}),
                (b"someone-else", b'{"educator_id": null}', {"dlq_reason": "rejected: y"}),
            ],
        )
        failures = REGISTRY.get_sample_value("setka_erasure_purge_failures_total") or 0.0

        _, purged = await erasure.erase(
            db,
            "127.0.0.1:1",  # nothing listens there
            ident,
            cause="request",
            reason=None,
            subject="operator:ivanova",
            roles=["operator"],
        )
        assert purged.removed == 0 and purged.failure, purged
        assert REGISTRY.get_sample_value("setka_erasure_purge_failures_total") == failures + 1
        (told,) = [e for e in await audit_entries_in_outbox(db) if e.operation == "purgeDeadLetters"]
        assert told.events[0].event_type == erasure.NOT_PURGED and told.events[0].key == str(ident)
        assert "не удалены" in (told.events[0].note or "") and "erase-educator" in (told.events[0].note or "")
        assert told.organization_ids == [str(world["home"])], "the region's admin sees it in the trail"
        letters = await deadletters.read_letters(broker.bootstrap, topics.REGIONAL_ATTENDANCE)
        assert {letter.key for letter in letters} == {b"theirs", b"someone-else"}, "nothing removed yet"

        settings = RegistrySettings(database_url=service_databases["registry"], **common(broker))
        arguments = argparse.Namespace(educator_id=str(ident), reason=None)
        status = await asyncio.to_thread(erasure.COMMAND.run, arguments, settings)
        said = capsys.readouterr().out
        assert status == 0, said
        assert "already erased" in said and "purged again" in said, said
        assert "dead letters removed: 1" in said, said
        letters = await deadletters.read_letters(broker.bootstrap, topics.REGIONAL_ATTENDANCE)
        assert {letter.key for letter in letters} == {b"someone-else"}, "their letter is gone, not the other"
        outcomes = [
            (e.events[0].event_type, e.subject)
            for e in await audit_entries_in_outbox(db)
            if e.operation == "purgeDeadLetters"
        ]
        assert outcomes == [(erasure.NOT_PURGED, "operator:ivanova"), (erasure.PURGED, "operator:ivanova")]
        async with db.session() as session:
            row = await session.get(Educator, ident)
        assert row is not None and row.last_name == ERASED_NAME, "erased once: the retry erased nothing more"

        # a person never erased is erased, not purged again; an unknown id is refused
        arguments = argparse.Namespace(educator_id=str(uuid.uuid4()), reason=None)
        assert await asyncio.to_thread(erasure.COMMAND.run, arguments, settings) == 1
        assert "Такого педагога нет" in capsys.readouterr().out
    finally:
        await db.dispose()


async def audit_entries_in_outbox(db: Database) -> list[AuditRecorded]:
    async with db.session() as session:
        rows = (
            await session.execute(
                select(outbox.c.payload).where(outbox.c.topic == topics.AUDIT).order_by(outbox.c.id)
            )
        ).scalars()
        return [AuditRecorded.model_validate_json(payload) for payload in rows.all()]


async def test_imports_redrives_rebuilds_and_erasures_are_audited(
    broker: Any, service_databases: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SETKA_OPERATOR", "ivanova")
    db = Database(service_databases["registry"])
    analytics_db = Database(service_databases["analytics"])
    try:
        world = await build_registry_world(db)
        # an import by an operator: one entry per committed chunk, naming the events it caused
        source = tmp_path / "educators.csv"
        async with db.session() as session, session.begin():
            await session.execute(
                text("UPDATE organization SET inn = '3906000012' WHERE id = :id"), {"id": world["home"]}
            )
        source.write_text(f"ФИО;ИНН ОО;Должность\n{FULL};3906000012;учитель\n", encoding="utf-8")
        summary = await import_file(db, source, ImportKind.educators)
        assert summary.rejections == [], summary.rejections
        imported = [e for e in await audit_entries_in_outbox(db) if e.operation == "import"]
        assert len(imported) == 1 and imported[0].subject == "operator:ivanova"
        assert [e.event_type for e in imported[0].events] == ["setka.registry.educator.registered.v2"]

        # an erasure from the command line
        async with db.session() as session:
            ident = await session.scalar(select(Educator.id).where(Educator.last_name == LAST))
        await erasure.erase(
            db,
            broker.bootstrap,
            ident,
            cause="request",
            reason=None,
            subject="operator:ivanova",
            roles=["operator"],
        )
        erasures = [e for e in await audit_entries_in_outbox(db) if e.operation == "eraseEducator"]
        assert [[x.event_type for x in e.events] for e in erasures] == [["setka.registry.educator.erased.v1"]]

        # a re-drive of a dead letter: straight to the audit topic
        await produce(broker.bootstrap, topics.dead_letter(topics.REGIONAL_TRAININGS), [(b"k", b"{}", {})])
        letters = await deadletters.read_letters(broker.bootstrap, topics.REGIONAL_TRAININGS)
        await deadletters.redrive(broker.bootstrap, topics.REGIONAL_TRAININGS, letters)
        consumer = AIOKafkaConsumer(
            topics.AUDIT, bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), 30)
        finally:
            await consumer.stop()
        redriven = AuditRecorded.model_validate_json(record.value)
        assert (redriven.operation, redriven.subject) == ("redrive", "operator:ivanova")
        assert redriven.events[0].key == topics.REGIONAL_TRAININGS

        # a rebuild of analytics' read models
        await rebuild.rebuild(
            AnalyticsSettings(
                database_url=service_databases["analytics"], kafka_bootstrap_servers=broker.bootstrap
            ),
            wait_seconds=5,
        )
        rebuilt = [e for e in await audit_entries_in_outbox(analytics_db) if e.operation == "rebuild"]
        assert len(rebuilt) == 1 and rebuilt[0].service == "analytics"
    finally:
        await db.dispose()
        await analytics_db.dispose()


async def test_the_audit_trail_keeps_entries_only_for_its_retention(
    service_databases: dict[str, str],
) -> None:
    db = Database(service_databases["analytics"])
    now = datetime(2026, 12, 1, tzinfo=UTC)
    try:
        async with db.session() as session, session.begin():
            for days, operation in ((400, "old"), (100, "recent"), (1, "fresh")):
                session.add(
                    AuditEntry(
                        entry_id=uuid.uuid4(),
                        at=now - timedelta(days=days),
                        service="registry",
                        operation=operation,
                        subject="admin-39",
                        roles=["regional_admin"],
                        organization_ids=[],
                        events=[],
                    )
                )
        settings = AnalyticsSettings(
            database_url=service_databases["analytics"],
            audit_retention_days=365,
            audit_retention_interval_seconds=0.1,
        )
        loop = asyncio.create_task(audit_retention.retention_loop(db, settings, clock=lambda: now))

        async def kept() -> list[str] | None:
            async with db.session() as session:
                found = sorted((await session.scalars(select(AuditEntry.operation))).all())
            return found if found == ["fresh", "recent"] else None

        assert await eventually(kept, timeout=30) == ["fresh", "recent"]
        loop.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await loop
        unset = AnalyticsSettings(database_url=service_databases["analytics"])
        assert unset.audit_retention_days is None, "unset: kept for ever"
    finally:
        await db.dispose()
