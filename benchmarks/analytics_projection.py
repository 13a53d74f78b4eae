"""The analytics projection's rate, publish → region summary, next to a bare consumer's raw rate.

The analytics service reads ``setka.registry`` the way it does in production: batches from the
broker, each event's envelope and contract checked, one transaction per batch (bulk inbox claim,
the counts of the batch added up in memory, one upsert per region). The reference, in the same run
and on the same broker and database server, is the bare aiokafka consumer with bulk inserts of
the events benchmark, reading the same messages.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from setka_contracts import CloudEvent, topics
from setka_contracts.registry import OrganizationRegistered
from setka_runtime import migrations
from setka_runtime.kafka import ensure_topics
from setka_runtime.local_broker import free_port, start_tansu
from sqlalchemy.engine import make_url

from benchmarks.databases import ScratchDatabases
from benchmarks.events_inbound import bare_consumer, publish
from benchmarks.timing import rate, ratio

ROOT = Path(__file__).resolve().parent.parent
ANALYTICS_MIGRATIONS = ROOT / "services" / "analytics" / "migrations"
REGIONS = ("39", "08", "47", "78", "50", "77", "66", "16")


def messages(count: int) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """``count`` registrations of organizations, spread over a few regions."""
    rng = random.Random(11)
    result = []
    now = datetime.now(UTC)
    for number in range(count):
        data = OrganizationRegistered(
            organization_id=uuid.uuid4(),
            full_name=f"МБОУ СОШ № {number} (бенчмарк)",
            short_name=f"СОШ № {number}",
            kind="school" if rng.random() < 0.8 else "college",
            region_code=rng.choice(REGIONS),
            registered_at=now,
        )
        event = CloudEvent(type=data.event_type, source="/setka/registry", data=data.model_dump(mode="json"))
        headers = [(name, value.encode()) for name, value in event.headers().items()]
        result.append((data.key().encode(), event.body(), headers))
    return result


async def counted(url: str) -> int:
    connection = await asyncpg.connect(url)
    try:
        return int(await connection.fetchval("SELECT coalesce(sum(organizations), 0) FROM region_summary"))
    finally:
        await connection.close()


async def through_the_service(bootstrap: str, url: str, plain: str, batch: list[Any]) -> float:
    """Seconds from the first publish until the region summaries count every organization."""
    from services.analytics import app as analytics
    from services.analytics.settings import AnalyticsSettings

    service = analytics.build(AnalyticsSettings(database_url=url, kafka_bootstrap_servers=bootstrap))
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 120)
        # the group's first join (seconds on Tansu) is start-up, not throughput
        await asyncio.wait_for(service.subscriptions[0].assigned.wait(), 120)
        started = time.perf_counter()
        await publish(bootstrap, topics.REGISTRY, batch)
        while await counted(plain) < len(batch):  # noqa: ASYNC110 - polling another process's effect
            await asyncio.sleep(0.05)
        return time.perf_counter() - started


async def run(dbs: ScratchDatabases, count: int, workdir: Path) -> None:
    print(
        f"\nAnalytics projection: {count:,} organization registrations on {topics.REGISTRY}"
        " (local Tansu broker)"
    )
    port = free_port()
    broker = start_tansu(port, log_path=workdir / "tansu-analytics-bench.log")
    bootstrap = f"127.0.0.1:{port}"
    try:
        url = await dbs.create("analytics", migrate=False)
        await asyncio.to_thread(migrations.upgrade, ANALYTICS_MIGRATIONS, url, "analytics")
        plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        batch = messages(count)
        await ensure_topics(bootstrap, [topics.REGISTRY, "bench.raw.registry"])
        service_seconds = await through_the_service(bootstrap, url, plain, batch)
        await publish(bootstrap, "bench.raw.registry", batch)
        raw_seconds = await bare_consumer(bootstrap, plain, "bench.raw.registry", count)
        print(f"  bare consumer + bulk insert (reference)   {rate(count, raw_seconds)}")
        print(f"  analytics service, publish → projection   {rate(count, service_seconds)}")
        print(
            "  the service takes "
            + ratio(service_seconds, raw_seconds, what="the reference's time").strip()
            + " (a transaction per batch: inbox claim, counts added up, one upsert per region)"
        )
    finally:
        broker.terminate()
        broker.wait(10)
