"""Inbound events per second, publish → stored domain event, next to a bare consumer's raw rate.

The facts are published by another process (a regional system's producer), so the service's
process is timed doing only its own work.

The events service reads a regional system's mix of all five ``regional.*`` topics the way it does
in production: activities (a twentieth of the stream, sent first, as a regional system sends them
before their attendance), then attendance at them, assessment results, trainings and deficits.
Batches are read from the broker, each message's envelope and contract checked, then one
transaction per batch and topic (bulk inbox claim, the sources' grants, bulk reads of what the
facts refer to, the rules per message, bulk upsert, bulk outbox rows) while the outbox relay
publishes in the same process. The reference, in the same run and on the same broker and database
server, is a bare aiokafka consumer of the same number of messages that bulk-inserts them into a
table.

The same mix again with tracing switched on (the SDK's provider, every span made and handed to an
in-process exporter that drops it): every message's consumer span, the batch spans, the outbox's
and relay's spans; the cost of making them is the difference of the two times. Each of these runs
has a broker and a database of its own, and they go off, on, on, off: a later run on the same
in-memory broker is slower whatever it does (the broker's log has grown), and the order evens out
what is left of the machine's drift.

Next to it, assessment results over HTTP (``POST /facts``, batched CloudEvents, a source's token,
250 a request, four requests at a time, to the service's ASGI app in this process): answered 202
once kept, then applied by the same consumer; timed from the first request to the last stored
event.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import multiprocessing
import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from setka_contracts import CloudEvent, topics
from setka_contracts.events import (
    ActivityPlanned,
    AssessmentResultRecorded,
    AttendanceRecorded,
    DeficitRecorded,
    TrainingRecorded,
)
from setka_contracts.identifiers import inn_check_digit
from setka_contracts.regional import (
    ActivityRecordedByRegion,
    AssessmentResultPublished,
    AttendanceRecordedByRegion,
    DeficitDiagnosed,
    TrainingCompleted,
)
from setka_runtime import migrations, tracing
from setka_runtime.kafka import ensure_topics
from setka_runtime.local_broker import free_port, start_tansu
from sqlalchemy.engine import make_url

from benchmarks.databases import ScratchDatabases
from benchmarks.timing import cost, rate, ratio, share

ROOT = Path(__file__).resolve().parent.parent
EVENTS_MIGRATIONS = ROOT / "services" / "events" / "migrations"
SUBJECTS = (
    "математика",
    "русский язык",
    "физика",
    "химия",
    "биология",
    "история",
    "география",
    "информатика",
)


def _inn(number: int) -> str:
    body = f"39{number:07d}"
    return body + inn_check_digit(body)


def messages(count: int, schools: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """``count`` distinct assessment results (school × procedure × subject × grade × year)."""
    rng = random.Random(7)
    result = []
    for index in range(count):
        school, rest = index % schools, index // schools
        subject, rest = SUBJECTS[rest % len(SUBJECTS)], rest // len(SUBJECTS)
        grade, rest = 4 + rest % 8, rest // 8
        data = AssessmentResultPublished(
            source_system="bench-rcoi",
            external_id=f"B-{index}",
            organization={"inn": _inn(school)},
            procedure=("vpr", "oge", "ege", "regional_diagnostic")[rest % 4],
            subject=subject,
            grade=grade,
            year=2020 + rest // 4,
            participants=rng.randrange(10, 120),
            mean_score=round(rng.uniform(2.8, 4.6), 2),
            mark_shares={"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
            recorded_at=datetime(2026, 1, 1, tzinfo=UTC),
        )
        event = CloudEvent(type=data.event_type, source="/bench/rcoi", data=data.model_dump(mode="json"))
        headers = [(name, value.encode()) for name, value in event.headers().items()]
        result.append((data.key().encode(), event.body(), headers))
    return result


Routed = tuple[str, bytes, bytes, list[tuple[str, bytes]]]
"""A message with its topic."""

RECORDED = [
    ActivityPlanned.event_type,
    AttendanceRecorded.event_type,
    AssessmentResultRecorded.event_type,
    TrainingRecorded.event_type,
    DeficitRecorded.event_type,
]
"""The domain events the five topics' facts become, one each."""


def _routed(data: Any, source: str) -> Routed:
    event = CloudEvent(type=data.event_type, source=source, data=data.model_dump(mode="json"))
    headers = [(name, value.encode()) for name, value in event.headers().items()]
    return data.topic, data.key().encode(), event.body(), headers


def educator_id(number: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_OID, f"bench-educator-{number}")


def mix(count: int, schools: int, educators: int) -> tuple[list[Routed], list[Routed]]:
    """``count`` distinct facts of the five topics: the activities (a twentieth), then the rest —
    attendance (45 %), assessment results (20 %), trainings and deficits (15 % each), interleaved.
    Educator ``e`` works at school ``e % schools``."""
    rng = random.Random(5)
    recorded = datetime(2026, 1, 1, tzinfo=UTC)
    activities = max(1, count // 20)
    attendance, trainings, deficits = count * 45 // 100, count * 15 // 100, count * 15 // 100
    assessments = count - activities - attendance - trainings - deficits
    first: list[Routed] = []
    for number in range(activities):
        starts = datetime(2025, 9, 1, 10, tzinfo=UTC) + timedelta(hours=number % 2000)
        first.append(
            _routed(
                ActivityRecordedByRegion(
                    source_system="bench-lms",
                    external_id=f"ACT-{number}",
                    title=f"Семинар № {number} (бенчмарк)",
                    activity_type="seminar",
                    processes=["experience_exchange"],
                    host={"inn": _inn(number % schools)},
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=4),
                    status="held",
                    updated_at=recorded,
                ),
                "/bench/lms",
            )
        )
    kinds: list[list[Routed]] = [[], [], []]
    for number in range(attendance):
        educator = (number // activities) % educators
        kinds[0].append(
            _routed(
                AttendanceRecordedByRegion(
                    source_system="bench-lms",
                    external_id=f"ATT-{number}",
                    activity_external_id=f"ACT-{number % activities}",
                    organization={"inn": _inn(educator % schools)},
                    educator_id=educator_id(educator),
                    hours=2.0,
                    recorded_at=recorded,
                ),
                "/bench/lms",
            )
        )
    for number in range(trainings):
        educator = number % educators
        kinds[1].append(
            _routed(
                TrainingCompleted(
                    source_system="bench-lms",
                    external_id=f"TR-{number}",
                    educator_id=educator_id(educator),
                    organization={"inn": _inn(educator % schools)},
                    course=f"Курс № {number % 50}",
                    provider="КРИПКРО (бенчмарк)",
                    hours=rng.choice((16, 36, 72)),
                    completed_on=date(2025, 6, 1),
                    recorded_at=recorded,
                ),
                "/bench/lms",
            )
        )
    for number in range(deficits):
        educator = number % educators
        kinds[1].append(
            _routed(
                DeficitDiagnosed(
                    source_system="bench-lms",
                    external_id=f"DEF-{number}",
                    educator_id=educator_id(educator),
                    organization={"inn": _inn(educator % schools)},
                    competency=f"компетенция № {number % 40}",
                    level=rng.choice(("low", "medium", "high")),
                    diagnosed_on=date(2025, 5, 1),
                    recorded_at=recorded,
                ),
                "/bench/lms",
            )
        )
    kinds[2] = [
        (topics.REGIONAL_ASSESSMENTS, key, value, headers)
        for key, value, headers in messages(assessments, schools)
    ]
    rest = [
        message for group in zip(*(_spread(kind, 8) for kind in kinds), strict=False) for message in group
    ]
    return first, [message for chunk in rest for message in chunk]


def _spread(messages: list[Routed], parts: int) -> list[list[Routed]]:
    size = -(-len(messages) // parts)
    return [messages[start : start + size] for start in range(0, len(messages), size)]


async def publish_routed(bootstrap: str, batch: list[Routed]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        pending = [
            await producer.send(topic, value, key=key, headers=headers)
            for topic, key, value, headers in batch
        ]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


def _publish_routed_here(bootstrap: str, batch: list[Routed]) -> None:
    asyncio.run(publish_routed(bootstrap, batch))


def _ready() -> bool:
    return True


@contextlib.asynccontextmanager
async def another_process() -> Any:
    """A process of its own that publishes as a regional system does (:func:`publish_routed`), so
    the producer's work is not done in the service's event loop while it is timed (the
    reference, too, is timed without its publishing). Started and warmed before the timing."""
    context = multiprocessing.get_context("spawn")
    loop = asyncio.get_running_loop()
    with concurrent.futures.ProcessPoolExecutor(max_workers=1, mp_context=context) as pool:
        await loop.run_in_executor(pool, _ready)

        async def publish(bootstrap: str, batch: list[Routed]) -> None:
            await loop.run_in_executor(pool, _publish_routed_here, bootstrap, batch)

        yield publish


async def seed_educators(url: str, schools: int, educators: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        ids = {
            inn: ident
            for inn, ident in await connection.fetch(
                "SELECT inn, id FROM known_organization WHERE inn IS NOT NULL"
            )
        }
        await connection.executemany(
            "INSERT INTO known_educator (id, subjects, updated_at) VALUES ($1, '[]', $2)",
            [(educator_id(n), now) for n in range(educators)],
        )
        await connection.executemany(
            "INSERT INTO known_employment (id, educator_id, organization_id) VALUES ($1, $2, $3)",
            [(uuid.uuid4(), educator_id(n), ids[_inn(n % schools)]) for n in range(educators)],
        )
    finally:
        await connection.close()


async def count_mix(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type = ANY($1::text[])", RECORDED
            )
        )
    finally:
        await connection.close()


async def mix_through_the_service(bootstrap: str, url: str, first: list[Routed], rest: list[Routed]) -> float:
    """Seconds from the first publish to the last stored domain event of the mix, the service
    running: the activities published and applied, then the rest."""
    from services.events import app as events
    from services.events.settings import EventsSettings

    service = events.build(
        EventsSettings(database_url=url, kafka_bootstrap_servers=bootstrap, outbox_poll_seconds=0.2)
    )
    await register_source(service.db)  # the assessment results' system
    await register_source(service.db, ce_source="/bench/lms", system="bench-lms", grant_topics=MIX_TOPICS)
    async with service.running(), another_process() as publish_elsewhere:
        await asyncio.wait_for(service.connected.wait(), 120)
        await asyncio.wait_for(service.subscriptions[0].assigned.wait(), 120)
        started = time.perf_counter()
        for part, expected in ((first, len(first)), (rest, len(first) + len(rest))):
            await publish_elsewhere(bootstrap, part)
            deadline = time.monotonic() + 600
            while (done := await count_mix(url)) < expected:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the mix stalled: {done} of {expected} facts became events")
                await asyncio.sleep(0.05)
        return time.perf_counter() - started


MIX_TOPICS = [
    topics.REGIONAL_ACTIVITIES,
    topics.REGIONAL_ATTENDANCE,
    topics.REGIONAL_ASSESSMENTS,
    topics.REGIONAL_TRAININGS,
    topics.REGIONAL_DEFICITS,
]


class _Dropped(SpanExporter):
    """An exporter that keeps nothing: what tracing costs the service is making its spans."""

    def export(self, spans: Any) -> SpanExportResult:
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return


@contextlib.contextmanager
def traced() -> Iterator[None]:
    """Tracing on for the block (every span made and handed to an exporter that drops it); off after."""
    try:
        assert tracing.setup("events", exporter=_Dropped()), "tracing did not switch on"
        yield
    finally:
        tracing.suspend()


async def publish(
    bootstrap: str, topic: str, batch: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]
) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    try:
        pending = [
            await producer.send(topic, value, key=key, headers=headers) for key, value, headers in batch
        ]
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def seed_schools(url: str, schools: int) -> None:
    connection = await asyncpg.connect(url)
    try:
        now = datetime.now(UTC)
        await connection.executemany(
            "INSERT INTO known_organization (id, short_name, kind, region_code, inn, updated_at)"
            " VALUES ($1, $2, 'school', '39', $3, $4)",
            [(uuid.uuid4(), f"Школа {n} (бенчмарк)", _inn(n), now) for n in range(schools)],
        )
    finally:
        await connection.close()


async def count_recorded(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(
            await connection.fetchval(
                "SELECT count(*) FROM outbox WHERE event_type = 'setka.events.assessment.recorded.v1'"
            )
        )
    finally:
        await connection.close()


async def register_source(
    db: Any,
    *,
    ce_source: str = "/bench/rcoi",
    system: str = "bench-rcoi",
    grant_topics: list[str] | None = None,
) -> str:
    """The bench's regional system is a registered source with its grants, as in production; its
    bearer token for POST /facts."""
    from services.events import sources

    async with db.session() as session, session.begin():
        source = await sources.register(
            session,
            ce_source=ce_source,
            region_code="39",
            title="Региональная система (бенчмарк)",
            grants={
                sources.GrantKind.source_system: [system],
                sources.GrantKind.topic: grant_topics or [topics.REGIONAL_ASSESSMENTS],
                sources.GrantKind.region: ["39"],
            },
        )
        token, _ = await sources.issue_token(session, source, by="bench")
    return token


async def through_the_service(bootstrap: str, url: str, batch: list[Any]) -> float:
    """Seconds from the first publish to the last stored domain event, the service running."""
    from services.events import app as events
    from services.events.settings import EventsSettings

    service = events.build(
        EventsSettings(database_url=url, kafka_bootstrap_servers=bootstrap, outbox_poll_seconds=0.2)
    )
    await register_source(service.db)
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 120)
        # the group's first join (seconds on Tansu) is start-up, not throughput
        await asyncio.wait_for(service.subscriptions[0].assigned.wait(), 120)
        started = time.perf_counter()
        await publish(bootstrap, topics.REGIONAL_ASSESSMENTS, batch)
        while await count_recorded(url) < len(batch):  # noqa: ASYNC110 - polling another process's effect
            await asyncio.sleep(0.05)
        return time.perf_counter() - started


HTTP_BATCH = 250


def structured(batch: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> list[dict[str, Any]]:
    """The same facts as CloudEvents in the JSON format, with ids of their own."""
    events = []
    for _key, value, headers in batch:
        attributes = {
            name.removeprefix("ce_"): raw.decode() for name, raw in headers if name.startswith("ce_")
        }
        attributes["id"] = "http-" + attributes["id"]
        events.append({**attributes, "data": json.loads(value)})
    return events


async def over_http(bootstrap: str, url: str, batch: list[Any]) -> float:
    """Seconds from the first request to the last stored domain event, the service running."""
    import httpx
    from starlette.routing import Route

    from services.events import app as events
    from services.events.schema import schema
    from services.events.settings import EventsSettings

    service = events.build(
        EventsSettings(
            database_url=url,
            kafka_bootstrap_servers=bootstrap,
            outbox_poll_seconds=0.2,
        )
    )
    token = await register_source(service.db)
    app = service.asgi(
        schema, extra_routes=[Route("/facts", service.context["intake"].receive, methods=["POST"])]
    )
    bodies = [
        json.dumps(structured(batch[start : start + HTTP_BATCH]), ensure_ascii=False).encode()
        for start in range(0, len(batch), HTTP_BATCH)
    ]
    headers = {"authorization": f"Bearer {token}", "content-type": "application/cloudevents-batch+json"}
    transport = httpx.ASGITransport(app=app)
    async with service.running(), httpx.AsyncClient(transport=transport, base_url="http://events") as client:
        await asyncio.wait_for(service.connected.wait(), 120)
        started = time.perf_counter()
        for first in range(0, len(bodies), 4):
            answers = await asyncio.gather(
                *(client.post("/facts", content=body, headers=headers) for body in bodies[first : first + 4])
            )
            assert all(answer.status_code == 202 for answer in answers), [a.text for a in answers]
        accepted = time.perf_counter() - started
        while await count_recorded(url) < len(batch):  # noqa: ASYNC110 - polling another process's effect
            await asyncio.sleep(0.05)
        done = time.perf_counter() - started
    print(f"  over HTTP: all answered 202 (kept) after  {rate(len(batch), accepted)}")
    return done


async def bare_consumer(bootstrap: str, url: str, topic: str, expected: int) -> float:
    """Seconds for a bare aiokafka consumer to read ``expected`` messages and bulk-insert them."""
    connection = await asyncpg.connect(url)
    await connection.execute("CREATE TABLE raw_inbound (event_id text PRIMARY KEY, payload jsonb NOT NULL)")
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in (consumer.partitions_for_topic(topic) or {0, 1, 2})]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        started = time.perf_counter()
        stored = 0
        while stored < expected:
            records = [
                r
                for part in (await consumer.getmany(timeout_ms=200, max_records=1000)).values()
                for r in part
            ]
            if not records:
                continue
            rows = [(dict(r.headers)["ce_id"].decode(), json.loads(r.value)) for r in records]
            await connection.executemany(
                "INSERT INTO raw_inbound (event_id, payload) VALUES ($1, $2::jsonb) ON CONFLICT DO NOTHING",
                [(event_id, json.dumps(payload, ensure_ascii=False)) for event_id, payload in rows],
            )
            stored += len(rows)
        return time.perf_counter() - started
    finally:
        await consumer.stop()
        await connection.close()


async def _events_database(dbs: ScratchDatabases, name: str, schools: int, educators: int) -> str:
    url = await dbs.create(name, migrate=False)
    await asyncio.to_thread(migrations.upgrade, EVENTS_MIGRATIONS, url, "events")
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    await seed_schools(plain, schools)
    if educators:
        await seed_educators(plain, schools, educators)
    return url


async def run(
    dbs: ScratchDatabases, count: int, workdir: Path, *, schools: int = 500, educators: int = 2000
) -> None:
    print(
        f"\nEvents inbound: {count:,} facts of the five regional topics (activities first, then"
        " attendance, assessments, trainings and deficits; local Tansu broker)"
    )
    port = free_port()
    broker = start_tansu(port, log_path=workdir / "tansu-events-bench.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        first, rest = mix(count, schools, educators)
        await ensure_topics(bootstrap, [*MIX_TOPICS, "bench.raw"])

        async def one_run(name: str, *, tracing_on: bool) -> float:
            port = free_port()
            own = start_tansu(port, log_path=workdir / f"tansu-{name}.log")
            try:
                address = f"127.0.0.1:{port}"
                await ensure_topics(address, MIX_TOPICS)
                database = await _events_database(dbs, name, schools, educators)
                with traced() if tracing_on else contextlib.nullcontext():
                    return await mix_through_the_service(address, database, first, rest)
            finally:
                own.terminate()
                own.wait(10)

        off, on = [], []
        for number, tracing_on in enumerate((False, True, True, False)):
            seconds = await one_run(f"events_mix_{number}", tracing_on=tracing_on)
            (on if tracing_on else off).append(seconds)
        service_seconds, traced_seconds = sum(off) / len(off), sum(on) / len(on)
        url = await _events_database(dbs, "events", schools, educators)

        batch = messages(count, schools)
        http_url = await _events_database(dbs, "events_http", schools, 0)
        http_seconds = await over_http(bootstrap, http_url, batch)
        raw = [(key, value, headers) for _, key, value, headers in first + rest]
        publish_started = time.perf_counter()
        await publish(bootstrap, "bench.raw", raw)
        publish_seconds = time.perf_counter() - publish_started
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        raw_seconds = await bare_consumer(bootstrap, plain, "bench.raw", len(raw))

        print(f"  publish only (aiokafka producer)         {rate(count, publish_seconds)}")
        print(f"  bare consumer + bulk insert (reference)   {rate(count, raw_seconds)}")
        print(f"  events service, the mix, tracing off      {rate(count, service_seconds)}  (mean of 2)")
        print(f"  events service, the mix, tracing on       {rate(count, traced_seconds)}  (mean of 2)")
        print(f"  events service, HTTP → domain event       {rate(count, http_seconds)}  (assessments)")
        print(
            "  the service's rate is "
            + share(raw_seconds, service_seconds, of="the reference's", goal=50)
            + " (a transaction per batch and topic: inbox claim, grants, rules, upsert, outbox; the relay"
            " publishing)"
        )
        print(
            "  tracing on costs "
            + cost(service_seconds, traced_seconds, goal=10)
            + " of the time with tracing off (spans of every message, batch, outbox row and relay"
            " send, made and dropped in the process)"
        )
        print(
            "  over HTTP the service takes "
            + ratio(http_seconds, service_seconds, what="the Kafka path's time").strip()
            + " (each request kept in one transaction before 202, then the same consumer)"
        )
    finally:
        broker.terminate()
        broker.wait(10)
