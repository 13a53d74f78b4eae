"""Done when: the event flow survives its process being killed and its database going away.

Real processes (the stack as ``make run`` starts it, on PostgreSQL) and a Kafka client the project
does not use (confluent-kafka), as a regional system would publish:

- 20,000 assessment results stream in while the events service is SIGKILLed five times at random
  points: every fact is applied exactly once, and every resulting domain event is published;
- PostgreSQL is unreachable for the events service for 20 s mid-stream (a TCP proxy cut): nothing
  goes to the dead-letter topic, readiness says "not ready" meanwhile, every fact is applied after.
"""

from __future__ import annotations

import asyncio
import json
import random
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from confluent_kafka import Producer
from setka_contracts import topics
from setka_contracts.identifiers import inn_check_digit
from setka_runtime.local_broker import free_port
from sqlalchemy.engine import make_url

from deploy.local_stack import Stack
from tests.e2e.conftest import stack_on
from tests.helpers import TcpProxy, eventually, headers_of, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.failure]

SCHOOLS = 100
RECORDED = "setka.events.assessment.recorded.v1"


def inn(number: int) -> str:
    body = f"39{number:07d}"
    return body + inn_check_digit(body)


def facts(count: int, *, offset: int = 0) -> list[tuple[bytes, bytes, list[tuple[str, bytes]]]]:
    """``count`` distinct assessment results (school × subject × grade × year), as raw messages."""
    messages = []
    recorded = datetime.now(UTC).replace(microsecond=0).isoformat()
    for index in range(offset, offset + count):
        school, rest = index % SCHOOLS, index // SCHOOLS
        data = {
            "source_system": "rcoi-e2e",
            "external_id": f"E-{index}",
            "organization": {"inn": inn(school)},
            "procedure": "vpr",
            "subject": f"предмет {rest % 50}",
            "grade": 1 + (rest // 50) % 11,
            "year": 2000 + rest // 550,
            "participants": 25,
            "mean_score": 3.7,
            "mark_shares": {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
            "recorded_at": recorded,
        }
        headers = {
            "ce_specversion": "1.0",
            "ce_id": f"e2e-{index}",
            "ce_type": "setka.regional.assessment.published.v1",
            "ce_source": "/regional/rcoi-e2e",
            "content-type": "application/json",
        }
        messages.append(
            (
                data["external_id"].encode(),
                json.dumps(data, ensure_ascii=False).encode(),
                [(k, v.encode()) for k, v in headers.items()],
            )
        )
    return messages


def send(bootstrap: str, messages: list[tuple[bytes, bytes, list[tuple[str, bytes]]]]) -> None:
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5})
    for key, value, headers in messages:
        while True:
            try:
                producer.produce(topics.REGIONAL_ASSESSMENTS, value=value, key=key, headers=headers)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0


def plain(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def seed_schools(url: str) -> None:
    """The region's schools, and the regional system that sends about them (``/regional/rcoi-e2e``)
    registered with its grants: the gate refuses an unregistered source."""
    connection = await asyncpg.connect(plain(url))
    try:
        await connection.executemany(
            "INSERT INTO known_organization (id, short_name, kind, region_code, inn, updated_at)"
            " VALUES ($1, $2, 'school', '39', $3, now())",
            [(uuid.uuid4(), f"Школа {n}", inn(n)) for n in range(SCHOOLS)],
        )
    finally:
        await connection.close()
    await register_source(url, "/regional/rcoi-e2e", "rcoi-e2e")


async def register_source(url: str, ce_source: str, source_system: str) -> None:
    """A source of region 39 that may send its assessment results (as `setka sources add` makes it)."""
    connection = await asyncpg.connect(plain(url))
    try:
        source_id = uuid.uuid4()
        await connection.execute(
            "INSERT INTO registered_source (id, ce_source, region_code, title, created_at, updated_at)"
            " VALUES ($1, $2, '39', $3, now(), now())",
            source_id,
            ce_source,
            f"РЦОИ ({source_system})",
        )
        await connection.executemany(
            "INSERT INTO source_grant (source_id, kind, value, granted_at) VALUES ($1, $2, $3, now())",
            [
                (source_id, "source_system", source_system),
                (source_id, "topic", topics.REGIONAL_ASSESSMENTS),
                (source_id, "region", "39"),
            ],
        )
    finally:
        await connection.close()


async def fetch_value(url: str, sql: str) -> Any:
    connection = await asyncpg.connect(plain(url))
    try:
        return await connection.fetchval(sql)
    finally:
        await connection.close()


async def test_every_fact_applied_exactly_once_while_the_service_is_killed_five_times(
    events_stack: Stack, service_databases: dict[str, str]
) -> None:
    url = service_databases["events"]
    bootstrap = f"127.0.0.1:{events_stack.ports['kafka']}"
    await seed_schools(url)
    total, parts = 20_000, 10
    rng = random.Random(5)
    kills = sorted(rng.sample(range(1, parts), 5))
    for part in range(parts):
        await asyncio.to_thread(send, bootstrap, facts(total // parts, offset=part * (total // parts)))
        if part in kills:
            await asyncio.sleep(rng.uniform(0.2, 2.0))  # somewhere mid-batch, mid-relay or idle
            events_stack.processes["events"].send_signal(signal.SIGKILL)
            events_stack.processes["events"].wait(10)
            events_stack.start_process("events")
    await asyncio.to_thread(events_stack.wait_ready, "events")

    async def all_applied() -> bool:
        return await fetch_value(url, "SELECT count(*) FROM assessment_result") == total

    await eventually(all_applied, timeout=240, interval=1)

    async def all_published() -> bool:
        return (
            await fetch_value(url, "SELECT count(*) FROM outbox WHERE published_at IS NULL") == 0
            and await fetch_value(url, f"SELECT count(*) FROM outbox WHERE event_type = '{RECORDED}'")
            == total
        )

    await eventually(all_published, timeout=120, interval=1)
    records = await read_topic(bootstrap, topics.EVENTS, at_least=total, timeout=120)
    published = Counter(headers_of(r)["ce_id"] for r in records if headers_of(r).get("ce_type") == RECORDED)
    outbox_ids = await _outbox_ids(url)
    assert set(published) == outbox_ids  # every stored event reached the topic
    assert len(outbox_ids) == total  # one domain event per fact: none applied twice
    duplicates = sum(count - 1 for count in published.values())
    print(
        f"\n{total} facts, 5 kills: {len(published)} distinct events published, {duplicates} re-sent copies"
    )
    dead = await read_topic(bootstrap, topics.dead_letter(topics.REGIONAL_ASSESSMENTS), at_least=0, timeout=3)
    assert dead == []


async def _outbox_ids(url: str) -> set[str]:
    connection = await asyncpg.connect(plain(url))
    try:
        rows = await connection.fetch("SELECT event_id FROM outbox WHERE event_type = $1", RECORDED)
        return {row["event_id"] for row in rows}
    finally:
        await connection.close()


class ThreadedProxy:
    """:class:`TcpProxy` on a loop of its own thread, so blocking waits in the test do not stall it."""

    def __init__(self, target_port: int) -> None:
        self.loop = asyncio.new_event_loop()
        self.proxy = TcpProxy(target_port, free_port())
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def call(self, coroutine: Any) -> None:
        asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(10)

    def start(self) -> None:
        self.call(self.proxy.start())

    def cut(self) -> None:
        self.call(self.proxy.cut())

    def close(self) -> None:
        self.cut()
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


async def readiness(url: str) -> tuple[int, dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5) as client:
        response = await client.get(f"{url}/readyz")
        return response.status_code, response.json()


async def test_postgresql_away_for_20_seconds_dead_letters_nothing_and_loses_nothing(
    tmp_path: Path, service_databases: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    url = service_databases["events"]
    await seed_schools(url)
    target = make_url(url)
    proxy = ThreadedProxy(target.port or 5432)
    proxy.start()
    through_proxy = target.set(port=proxy.proxy.listen_port).render_as_string(hide_password=False)
    stack = stack_on(tmp_path / "var", {**service_databases, "events": through_proxy})
    try:
        await asyncio.to_thread(stack.start)
        bootstrap = f"127.0.0.1:{stack.ports['kafka']}"
        events_url = stack.service_url("events")
        await asyncio.to_thread(send, bootstrap, facts(1000))
        await eventually(lambda: _count_at_least(url, 1), timeout=60)
        proxy.cut()
        cut_at = time.monotonic()
        await asyncio.to_thread(send, bootstrap, facts(2000, offset=1000))
        await asyncio.sleep(3)
        status, body = await readiness(events_url)
        assert status == 503, body
        await asyncio.sleep(max(0.0, 20 - (time.monotonic() - cut_at)))
        proxy.start()

        async def all_applied() -> bool:
            return await fetch_value(url, "SELECT count(*) FROM assessment_result") == 3000

        await eventually(all_applied, timeout=120, interval=1)
        await eventually(lambda: _ready(events_url), timeout=60)
        dead = await read_topic(
            bootstrap, topics.dead_letter(topics.REGIONAL_ASSESSMENTS), at_least=0, timeout=3
        )
        assert dead == []
    finally:
        await asyncio.to_thread(stack.stop)
        proxy.close()


async def _count_at_least(url: str, count: int) -> bool:
    return await fetch_value(url, "SELECT count(*) FROM assessment_result") >= count


async def _ready(url: str) -> bool:
    return (await readiness(url))[0] == 200
