"""Kafka wiring shared by every service: the broker (its producer), publishing, and topics.

Consuming is :mod:`setka_runtime.consumer`."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from setka_contracts.topics import dead_letter

from .settings import ServiceSettings

log = logging.getLogger(__name__)


def make_broker(settings: ServiceSettings, *, client_id: str) -> KafkaBroker:
    return KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        enable_idempotence=settings.kafka_enable_idempotence,
        acks="all",
        log_level=logging.DEBUG,
        graceful_timeout=settings.consumer_graceful_seconds,
        logger=logging.getLogger(f"setka.{client_id}.kafka"),
    )


def publisher(broker: KafkaBroker) -> Callable[[str, str, bytes, dict[str, str]], Awaitable[None]]:
    """publish(topic, key, body, headers) over the broker's producer, awaiting the broker's ack."""

    async def publish(topic: str, key: str, body: bytes, headers: dict[str, str]) -> None:
        await broker.publish(body, topic, key=key.encode(), headers=headers)

    return publish


def sender(broker: KafkaBroker) -> Callable[[str, str, bytes, dict[str, str]], Awaitable[Any]]:
    """send(topic, key, body, headers): hand the message to the producer; return the future of
    its acknowledgement (so a batch goes out together and is awaited once)."""

    async def send(topic: str, key: str, body: bytes, headers: dict[str, str]) -> Any:
        return await broker.publish(body, topic, key=key.encode(), headers=headers, no_confirm=True)

    return send


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int = 3,
    replication_factor: int = 1,
    with_dead_letters: bool = True,
) -> list[str]:
    """Create missing topics (and their ``.dlq``); return the names created."""
    wanted: list[str] = []
    for topic in topics:
        wanted.append(topic)
        if with_dead_letters and not topic.endswith(".dlq"):
            wanted.append(dead_letter(topic))
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [name for name in dict.fromkeys(wanted) if name not in existing]
        if missing:
            await admin.create_topics(
                [
                    NewTopic(name, num_partitions=partitions, replication_factor=replication_factor)
                    for name in missing
                ]
            )
        return missing
    finally:
        await admin.close()
