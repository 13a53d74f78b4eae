"""The analytics read models' incremental update rate, publish → projection, next to a bare
consumer's raw rate.

A realistic mix: organizations registered on ``setka.registry`` (a tenth of the stream), then on
``setka.events`` activities planned at them and attendance recorded at those activities (the
bulk of what analytics reads). The analytics service reads them the way it does in production:
batches from the broker, each event's envelope and contract checked, one transaction per batch
(bulk inbox claim, bulk upserts). The reference, in the same run and on the same broker and
database server, is the bare aiokafka consumer with bulk inserts of the events benchmark, reading
the same messages from one topic.

The events are published by another process (the registry's and the events service's relays are
processes of their own), so the service's process is timed doing only its own work, as the
reference is timed without its publishing.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from setka_contracts import CloudEvent, topics
from setka_contracts.events import ActivityPlanned, AttendanceRecorded
from setka_contracts.registry import OrganizationRegistered
from setka_runtime import migrations
from setka_runtime.kafka import ensure_topics
from setka_runtime.local_broker import free_port, start_tansu
from sqlalchemy.engine import make_url

from benchmarks.databases import ScratchDatabases
from benchmarks.events_inbound import another_process, bare_consumer, publish
from benchmarks.timing import rate, share

ROOT = Path(__file__).resolve().parent.parent
ANALYTICS_MIGRATIONS = ROOT / "services" / "analytics" / "migrations"
REGIONS = ("39", "08", "47", "78", "50", "77", "66", "16")


Message = tuple[bytes, bytes, list[tuple[str, bytes]]]


def _message(data: Any, source: str) -> Message:
    event = CloudEvent(type=data.event_type, source=source, data=data.model_dump(mode="json"))
    headers = [(name, value.encode()) for name, value in event.headers().items()]
    return data.key().encode(), event.body(), headers


def messages(count: int) -> tuple[list[Message], list[Message], int]:
    """About ``count`` events: registrations (a tenth), activities (a tenth), attendance (the rest);
    returns the registry's, the events service's and how many attendance records there are."""
    rng = random.Random(11)
    now = datetime.now(UTC)
    registry: list[Message] = []
    organizations = []
    for number in range(max(1, count // 10)):
        data = OrganizationRegistered(
            organization_id=uuid.uuid4(),
            full_name=f"МБОУ СОШ № {number} (бенчмарк)",
            short_name=f"СОШ № {number}",
            kind="school" if rng.random() < 0.8 else "college",
            region_code=rng.choice(REGIONS),
            registered_at=now,
        )
        organizations.append(data.organization_id)
        registry.append(_message(data, "/setka/registry"))
    events: list[Message] = []
    activities = []
    for number in range(max(1, count // 10)):
        starts = now - timedelta(days=rng.randint(1, 300))
        planned = ActivityPlanned(
            activity_id=uuid.uuid4(),
            title=f"Семинар № {number}",
            activity_type="seminar",
            format="in_person",
            host_organization_id=rng.choice(organizations),
            starts_at=starts,
            ends_at=starts + timedelta(hours=2),
        )
        activities.append(planned)
        events.append(_message(planned, "/setka/events"))
    attendance = count - len(registry) - len(events)
    for _ in range(max(0, attendance)):
        activity = rng.choice(activities)
        events.append(
            _message(
                AttendanceRecorded(
                    activity_id=activity.activity_id,
                    attendance_id=uuid.uuid4(),
                    organization_id=rng.choice(organizations),
                    educator_id=uuid.uuid4(),
                    hours=2.0,
                ),
                "/setka/events",
            )
        )
    return registry, events, max(0, attendance)


async def counted(url: str) -> tuple[int, int]:
    """Organizations counted in the region summaries, attendance records kept."""
    connection = await asyncpg.connect(url)
    try:
        organizations = await connection.fetchval(
            "SELECT coalesce(sum(organizations), 0) FROM region_summary"
        )
        attendance = await connection.fetchval("SELECT count(*) FROM attendance")
        return int(organizations), int(attendance)
    finally:
        await connection.close()


async def through_the_service(
    bootstrap: str, url: str, plain: str, registry: list[Message], events: list[Message], attendance: int
) -> float:
    """Seconds from the first publish until every organization is counted and every attendance kept."""
    from services.analytics import app as analytics
    from services.analytics.settings import AnalyticsSettings

    service = analytics.build(AnalyticsSettings(database_url=url, kafka_bootstrap_servers=bootstrap))
    async with service.running(), another_process() as publish_elsewhere:
        await asyncio.wait_for(service.connected.wait(), 120)
        # the group's first join (seconds on Tansu) is start-up, not throughput
        await asyncio.wait_for(service.subscriptions[0].assigned.wait(), 120)
        started = time.perf_counter()
        await publish_elsewhere(bootstrap, [(topics.REGISTRY, *message) for message in registry])
        await publish_elsewhere(bootstrap, [(topics.EVENTS, *message) for message in events])
        while True:
            organizations, kept = await counted(plain)
            if organizations >= len(registry) and kept >= attendance:
                break
            await asyncio.sleep(0.05)
        return time.perf_counter() - started


async def run(dbs: ScratchDatabases, count: int, workdir: Path) -> None:
    registry, events, attendance = messages(count)
    total = len(registry) + len(events)
    print(
        f"\nAnalytics read models: {total:,} events ({len(registry):,} registrations on {topics.REGISTRY},"
        f" {len(events) - attendance:,} activities and {attendance:,} attendance records on {topics.EVENTS};"
        " local Tansu broker)"
    )
    port = free_port()
    broker = start_tansu(port, log_path=workdir / "tansu-analytics-bench.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        url = await dbs.create("analytics", migrate=False)
        await asyncio.to_thread(migrations.upgrade, ANALYTICS_MIGRATIONS, url, "analytics")
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        await ensure_topics(bootstrap, [topics.REGISTRY, topics.EVENTS, "bench.raw.analytics"])
        service_seconds = await through_the_service(bootstrap, url, plain, registry, events, attendance)
        await publish(bootstrap, "bench.raw.analytics", registry + events)
        raw_seconds = await bare_consumer(bootstrap, plain, "bench.raw.analytics", total)
        print(f"  bare consumer + bulk insert (reference)   {rate(total, raw_seconds)}")
        print(f"  analytics service, publish → read models  {rate(total, service_seconds)}")
        print(
            "  the service's rate is "
            + share(raw_seconds, service_seconds, of="the reference's", goal=50)
            + " (a transaction per batch: inbox claim, bulk upserts of every read model)"
        )
    finally:
        broker.terminate()
        broker.wait(10)
