"""Done when: the relay keeps each key's order when the broker fails part of a batch.

Three organizations' events are recorded interleaved, and the relay hands them to a real producer
on the real broker in one batch; the producer fails one event in the middle of one organization's
run (as a broker that does not acknowledge it in time). Each key's events must stand in the log in
the order they were recorded, each once, with their outbox position as ``ce_sequence``: the later
events of the failed key are not sent before it (and then again after it).
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError
from setka_contracts import topics
from setka_contracts.registry import OrganizationUpdated
from setka_runtime.db import Database
from setka_runtime.kafka import make_broker, sender
from setka_runtime.outbox import OutboxRelay, record_many
from setka_runtime.settings import ServiceSettings

from tests.helpers import eventually, headers_of, read_topic
from tests.integration.test_relay_fencing import _none_left, _nothing

pytestmark = pytest.mark.integration

KEYS = 3
EVENTS = 6
"""Events of each key, recorded interleaved with the other keys' ones."""


def updated(organization: uuid.UUID, number: int) -> OrganizationUpdated:
    return OrganizationUpdated(
        organization_id=organization,
        full_name=f"МБОУ СОШ № {number} (тест)",
        short_name=f"СОШ № {number}",
        kind="school",
        region_code="39",
        updated_at="2026-03-01T09:00:00+00:00",
    )


class FailingOnce:
    """The real producer, except that the broker fails one chosen event the first time it is sent."""

    def __init__(self, send: Any, failing: str) -> None:
        self._send = send
        self.failing = failing
        self.failed = 0

    async def __call__(self, topic: str, key: str, body: bytes, headers: dict[str, str]) -> Any:
        if headers["ce_id"] == self.failing and not self.failed:
            self.failed += 1
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            future.set_exception(KafkaTimeoutError("the broker did not acknowledge the batch in time"))
            return future
        return await self._send(topic, key, body, headers)


async def test_a_key_s_later_events_wait_for_its_event_the_broker_failed(
    broker: Any, service_databases: dict[str, str]
) -> None:
    db = Database(service_databases["analytics"])
    organizations = [uuid.uuid4() for _ in range(KEYS)]
    async with db.session() as session, session.begin():
        ids = await record_many(
            session,
            [updated(organization, n) for n in range(EVENTS) for organization in organizations],
            source="/test",
        )
    recorded: dict[str, list[str]] = defaultdict(list)
    for position, event_id in enumerate(ids):
        recorded[str(organizations[position % KEYS])].append(event_id)
    failing = recorded[str(organizations[0])][1]  # the second event of the first organization

    kafka = make_broker(ServiceSettings(kafka_bootstrap_servers=broker.bootstrap), client_id="test-relay")
    await kafka.start()
    producer = FailingOnce(sender(kafka), failing)
    relay = OutboxRelay(db, _nothing, send=producer, poll_seconds=0.05, batch_size=100)
    task = asyncio.create_task(relay.run())
    try:
        await eventually(lambda: _none_left(db), timeout=30)
        records = await read_topic(broker.bootstrap, topics.REGISTRY, at_least=len(ids))
    finally:
        relay.stop()
        await asyncio.gather(task, return_exceptions=True)
        await kafka.stop()
        await db.dispose()

    assert producer.failed == 1
    in_log: dict[str, list[str]] = defaultdict(list)
    sequences: dict[str, list[int]] = defaultdict(list)
    for message in sorted(records, key=lambda r: (r.partition, r.offset)):
        headers = headers_of(message)
        in_log[message.key.decode()].append(headers["ce_id"])
        sequences[message.key.decode()].append(int(headers["ce_sequence"]))
    assert in_log == recorded  # each key's events in the order recorded, each once
    assert all(found == sorted(found) and len(set(found)) == len(found) for found in sequences.values())
