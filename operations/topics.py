"""``setka topics create``: every topic the code declares, and their dead-letter topics.

The declaration is :data:`setka_contracts.topics.DECLARED` (each service's topic, the audit trail,
what regional systems publish, and the ``.dlq`` of each) with each topic's configuration
(retention, clean-up policy, ``min.insync.replicas`` for the replication factor:
:func:`setka_contracts.topics.config_for`). Partitions and replication come from
``KAFKA_TOPIC_PARTITIONS`` and ``KAFKA_REPLICATION_FACTOR`` unless given. Creating is idempotent:
a topic that exists is left as it is and reported as existing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import TopicAlreadyExistsError, for_code
from setka_contracts.topics import DECLARED, config_for
from setka_runtime.kafka import TopicsNotCreated, new_topic

from .config import KafkaTarget

__all__ = ["TopicSpec", "TopicsCreated", "TopicsNotCreated", "create_topics", "declared_topics"]


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "partitions": self.partitions,
            "replication_factor": self.replication_factor,
            "config": self.config,
        }


@dataclass(frozen=True)
class TopicsCreated:
    created: list[TopicSpec]
    existing: list[str]

    def as_json(self) -> dict[str, Any]:
        return {"created": [spec.as_json() for spec in self.created], "existing": self.existing}


def declared_topics(*, partitions: int, replication_factor: int) -> list[TopicSpec]:
    """Every declared topic with the partitions, replication and configuration to create it with."""
    return [
        TopicSpec(
            name=spec.name,
            partitions=partitions,
            replication_factor=replication_factor,
            config=config_for(spec.name, replication_factor),
        )
        for spec in DECLARED
    ]


async def create_topics(kafka: KafkaTarget, specs: list[TopicSpec]) -> TopicsCreated:
    """Create the topics of ``specs`` that are missing; report which were created and which
    already existed. Raise :class:`TopicsNotCreated` with the broker's reason for each refusal."""
    admin = AIOKafkaAdminClient(**kafka.options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return TopicsCreated(created=[], existing=[spec.name for spec in specs])
        response = await admin.create_topics(
            [
                new_topic(spec.name, partitions=spec.partitions, replication_factor=spec.replication_factor)
                for spec in missing
            ]
        )
    finally:
        await admin.close()
    raced: set[str] = set()
    refused: list[str] = []
    for name, code, *rest in response.topic_errors:
        if code == TopicAlreadyExistsError.errno:
            raced.add(name)  # created meanwhile (a service starting): it exists, as wanted
        elif code:
            message = rest[0] if rest and rest[0] else for_code(code).description
            refused.append(f"{name}: {for_code(code).__name__} ({message})")
    if refused:
        raise TopicsNotCreated(f"{len(refused)} topic(s) refused: " + "; ".join(refused))
    return TopicsCreated(
        created=[spec for spec in missing if spec.name not in raced],
        existing=[spec.name for spec in specs if spec.name in existing or spec.name in raced],
    )
