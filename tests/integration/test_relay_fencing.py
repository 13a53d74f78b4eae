"""Done when: one relay publishes per database, provably, and a standby survives and takes over.

Two relays on one PostgreSQL database while every backend connection of the database is killed
again and again: no event is published by both, and every event is published. A holder that
dies without a word is replaced once its lease runs out. A standby whose database is unreachable
keeps trying and takes over once it can; readiness reports a relay that keeps failing. Two
relays on one SQLite file: each event once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from setka_contracts.registry import OrganizationRegistered
from setka_runtime import migrations
from setka_runtime.db import Database
from setka_runtime.kafka import make_broker, sender
from setka_runtime.outbox import OutboxRelay, record
from setka_runtime.settings import ServiceSettings
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from tests.conftest import MIGRATIONS
from tests.helpers import TcpProxy, eventually
from tests.integration.test_consumer import registration

pytestmark = pytest.mark.integration


class Recorder:
    """A producer stand-in that remembers which relay handed it which event."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    def send_for(self, relay: str) -> Any:
        async def send(topic: str, key: str, body: bytes, headers: dict[str, str]) -> asyncio.Future[Any]:
            self.sent.append((relay, headers["ce_id"]))
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_result(None)
            return future

        return send


async def _nothing(*_: Any) -> None:
    return None


def relay(db: Database, recorder: Recorder, name: str, *, lease: float = 2.0) -> OutboxRelay:
    return OutboxRelay(
        db, _nothing, send=recorder.send_for(name), poll_seconds=0.05, batch_size=20, lease_seconds=lease
    )


async def add_events(db: Database, count: int) -> list[str]:
    ids = []
    for _ in range(count):
        async with db.session() as session, session.begin():
            data = OrganizationRegistered.model_validate(registration("39").data)
            ids.append(await record(session, data, source="/test"))
    return ids


async def unpublished(db: Database) -> int:
    from setka_runtime.tables import outbox

    async with db.session() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        )


async def _none_left(db: Database) -> bool:
    return await unpublished(db) == 0


async def kill_backends(url: str) -> int:
    """Terminate every connection to the database but this one (what an operator or a crash does)."""
    plain = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    connection = await asyncpg.connect(plain)
    try:
        return len(
            await connection.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await connection.close()


async def test_killed_connections_never_let_two_relays_publish_the_same_event(
    service_databases: dict[str, str],
) -> None:
    url = service_databases["analytics"]
    first_db, second_db, writer = Database(url), Database(url), Database(url)
    recorder = Recorder()
    first, second = relay(first_db, recorder, "first"), relay(second_db, recorder, "second")
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        expected: list[str] = []
        for _ in range(6):
            expected += await add_events(writer, 15)
            await asyncio.sleep(0.3)
            await kill_backends(url)
        await eventually(lambda: _none_left(writer), timeout=30)
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        for db in (first_db, second_db, writer):
            await db.dispose()
    by_event: dict[str, set[str]] = {}
    for name, event_id in recorder.sent:
        by_event.setdefault(event_id, set()).add(name)
    assert set(by_event) == set(expected)
    assert [event for event, relays in by_event.items() if len(relays) > 1] == []


async def test_a_holder_that_dies_silently_is_replaced_once_its_lease_runs_out(
    service_databases: dict[str, str],
) -> None:
    url = service_databases["analytics"]
    first_db, second_db = Database(url), Database(url)
    recorder = Recorder()
    first, second = (
        relay(first_db, recorder, "first", lease=1.0),
        relay(second_db, recorder, "second", lease=1.0),
    )
    first_task = asyncio.create_task(first.run())
    await eventually(lambda: _is(first, "publishing"))
    second_task = asyncio.create_task(second.run())
    try:
        await asyncio.sleep(0.5)
        assert second.state == "standing by"
        first_task.cancel()  # a process killed: no clean release of the lease
        await asyncio.gather(first_task, return_exceptions=True)
        ids = await add_events(second_db, 10)
        await eventually(lambda: _none_left(second_db), timeout=30)
        assert second.state == "publishing"
    finally:
        second.stop()
        await asyncio.gather(second_task, return_exceptions=True)
        await first_db.dispose()
        await second_db.dispose()
    assert Counter(event for name, event in recorder.sent if name == "second") == Counter(ids)


async def _is(relay: OutboxRelay, state: str) -> bool:
    return relay.state == state


async def test_a_standby_survives_an_unreachable_database_and_takes_over(
    service_databases: dict[str, str], tmp_path: Path
) -> None:
    from setka_runtime.local_broker import free_port

    url = make_url(service_databases["analytics"])
    proxy = TcpProxy(url.port or 5432, free_port())
    proxied = Database(url.set(port=proxy.listen_port).render_as_string(hide_password=False))
    recorder = Recorder()
    standby = relay(proxied, recorder, "standby")
    standby.unhealthy_after_seconds = 0.5
    task = asyncio.create_task(standby.run())  # the proxy is not up: the database is unreachable
    try:
        await eventually(lambda: _failing(standby), timeout=30)
        await asyncio.sleep(0.6)
        with pytest.raises(ConnectionError, match="keeps failing"):
            await standby.check()
        assert not task.done()
        await proxy.start()
        await eventually(lambda: _is(standby, "publishing"), timeout=30)
        await standby.check()  # ready again
        ids = await add_events(proxied, 5)
        await eventually(lambda: _none_left(proxied), timeout=30)
    finally:
        standby.stop()
        await asyncio.gather(task, return_exceptions=True)
        await proxy.cut()
        await proxied.dispose()
    assert {event for _, event in recorder.sent} == set(ids)


async def _failing(relay: OutboxRelay) -> bool:
    return relay.failing_since is not None and relay.last_error != ""


async def test_two_relays_on_one_sqlite_file_publish_each_event_once(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'analytics.db'}"
    await asyncio.to_thread(migrations.upgrade, MIGRATIONS["analytics"], url, "analytics")
    first_db, second_db = Database(url), Database(url)
    recorder = Recorder()
    first, second = relay(first_db, recorder, "first"), relay(second_db, recorder, "second")
    tasks = [asyncio.create_task(first.run()), asyncio.create_task(second.run())]
    try:
        ids = await add_events(first_db, 20) + await add_events(second_db, 20)
        await eventually(lambda: _none_left(first_db), timeout=30)
        assert sorted([first.state, second.state]) == ["publishing", "standing by"]
    finally:
        first.stop()
        second.stop()
        await asyncio.gather(*tasks, return_exceptions=True)
        await first_db.dispose()
        await second_db.dispose()
    assert Counter(event for _, event in recorder.sent) == Counter(ids)


async def test_events_reach_the_broker_through_the_batch_sender(
    broker: Any, service_databases: dict[str, str]
) -> None:
    """The real producer path: a batch handed over at once, acknowledged, marked."""
    from tests.helpers import headers_of, read_topic

    url = service_databases["analytics"]
    db = Database(url)
    kafka = make_broker(ServiceSettings(kafka_bootstrap_servers=broker.bootstrap), client_id="test-relay")
    await kafka.start()
    real = OutboxRelay(db, _nothing, send=sender(kafka), poll_seconds=0.05, batch_size=50)
    task = asyncio.create_task(real.run())
    try:
        ids = await add_events(db, 60)
        await eventually(lambda: _none_left(db), timeout=30)
        records = await read_topic(broker.bootstrap, "setka.registry", at_least=60)
    finally:
        real.stop()
        await asyncio.gather(task, return_exceptions=True)
        await kafka.stop()
        await db.dispose()
    assert Counter(headers_of(r)["ce_id"] for r in records) == Counter(ids)
