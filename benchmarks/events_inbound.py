"""Inbound events per second, publish → stored domain event, next to a bare consumer's raw rate.

The events service reads assessment results from ``regional.assessments`` the way it does in
production: batches read from the broker, each message's envelope and contract checked, then one
transaction per batch (bulk inbox claim, bulk reads of the schools, the rules per message, bulk
upsert, bulk outbox rows) while the outbox relay publishes in the same process. The reference,
in the same run and on the same broker and database server, is a bare aiokafka consumer of the
same messages that bulk-inserts them into a table.

Next to it, the same facts over HTTP (``POST /facts``, batched CloudEvents, a source's token, 250
a request, four requests at a time, to the service's ASGI app in this process): answered 202 once
kept, then applied by the same consumer; timed from the first request to the last stored event.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from setka_contracts import CloudEvent, topics
from setka_contracts.identifiers import inn_check_digit
from setka_contracts.regional import AssessmentResultPublished
from setka_runtime import migrations
from setka_runtime.kafka import ensure_topics
from setka_runtime.local_broker import free_port, start_tansu
from sqlalchemy.engine import make_url

from benchmarks.databases import ScratchDatabases
from benchmarks.timing import rate, ratio

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


async def register_source(db: Any) -> str:
    """The bench's regional system is a registered source with its grants, as in production; its
    bearer token for POST /facts."""
    from services.events import sources

    async with db.session() as session, session.begin():
        source = await sources.register(
            session,
            ce_source="/bench/rcoi",
            region_code="39",
            title="РЦОИ (бенчмарк)",
            grants={
                sources.GrantKind.source_system: ["bench-rcoi"],
                sources.GrantKind.topic: [topics.REGIONAL_ASSESSMENTS],
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


async def run(dbs: ScratchDatabases, count: int, workdir: Path, *, schools: int = 500) -> None:
    print(
        f"\nEvents inbound: {count:,} assessment results on {topics.REGIONAL_ASSESSMENTS}"
        " (local Tansu broker)"
    )
    port = free_port()
    broker = start_tansu(port, log_path=workdir / "tansu-events-bench.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        url = await dbs.create("events", migrate=False)
        await asyncio.to_thread(migrations.upgrade, EVENTS_MIGRATIONS, url, "events")
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        await seed_schools(plain, schools)
        batch = messages(count, schools)
        await ensure_topics(bootstrap, [topics.REGIONAL_ASSESSMENTS, "bench.raw"])

        service_seconds = await through_the_service(bootstrap, url, batch)
        http_url = await dbs.create("events_http", migrate=False)
        await asyncio.to_thread(migrations.upgrade, EVENTS_MIGRATIONS, http_url, "events")
        await seed_schools(
            make_url(http_url).set(drivername="postgresql").render_as_string(hide_password=False), schools
        )
        http_seconds = await over_http(bootstrap, http_url, batch)
        publish_started = time.perf_counter()
        await publish(bootstrap, "bench.raw", batch)
        publish_seconds = time.perf_counter() - publish_started
        raw_seconds = await bare_consumer(bootstrap, plain, "bench.raw", count)

        print(f"  publish only (aiokafka producer)         {rate(count, publish_seconds)}")
        print(f"  bare consumer + bulk insert (reference)   {rate(count, raw_seconds)}")
        print(f"  events service, publish → domain event    {rate(count, service_seconds)}")
        print(f"  events service, HTTP → domain event       {rate(count, http_seconds)}")
        print(
            "  over HTTP the service takes "
            + ratio(http_seconds, service_seconds, what="the Kafka path's time").strip()
            + " (each request kept in one transaction before 202, then the same consumer)"
        )
        print(
            "  the service takes "
            + ratio(service_seconds, raw_seconds, what="the reference's time").strip()
            + " (a transaction per batch: inbox claim, rules, upsert, outbox; the relay publishing)"
        )
    finally:
        broker.terminate()
        broker.wait(10)
