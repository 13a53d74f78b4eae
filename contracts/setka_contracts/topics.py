"""Topic names, and the configuration of every topic, declared once.

Outbound topics carry one service's domain events, keyed by aggregate id. Whatever creates
topics (the services at start, ``setka topics create``, the Kubernetes ``KafkaTopic``\\ s) takes
partitions, retention, clean-up policy and ``min.insync.replicas`` from :data:`DECLARED` through
:func:`config_for`.

Why these values:

* **Domain event topics are kept for ever** (``retention.ms=-1``): the outbound topics, the
  audit trail and the regional inbound topics are the history a consumer rebuilds its read
  models from (``replay``), and the history a new consumer starts from. With a finite retention
  a rebuild after that horizon would give different read models, silently. The volume is small
  (a school network's activities, attendance and assessments: thousands of events a day), so
  keeping everything costs little; an operator who must lower it for one topic accepts that the
  service reading it can no longer be rebuilt from Kafka past that horizon.
* **No topic is compacted** (``cleanup.policy=delete``): compaction keeps only the latest record
  per key, which suits a changelog whose latest state per aggregate is all a reader needs.
  None of ours is one: the consumers need every event (an activity is planned, then held, then
  reported; attendance and assessments are facts, each counted), so compaction would lose data.
* **Dead-letter topics are kept 30 days** (Kafka's default is 7): long enough for someone to
  look at a letter after a holiday and re-drive it once the cause is fixed; the consumer that
  gave up on it has moved on, so nothing is rebuilt from them.
* ``min.insync.replicas`` is 2 when a topic has 3 or more replicas (with ``acks=all`` a write is
  on two brokers before it is acknowledged, and one broker may be down), else 1 (a single
  broker, or two, must still take writes). It follows the replication factor the topic is
  actually created with: :func:`config_for` takes it as an argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

REGISTRY = "setka.registry"
EVENTS = "setka.events"
ANALYTICS = "setka.analytics"
AUDIT = "setka.audit"
"""Who changed what: every service's writes (see :mod:`setka_contracts.audit`)."""

OUTBOUND = (REGISTRY, EVENTS, ANALYTICS, AUDIT)

# Inbound topics: regional systems publish here (see docs/integrators.md); the events service reads.
REGIONAL_ACTIVITIES = "regional.activities"
REGIONAL_ATTENDANCE = "regional.attendance"
REGIONAL_ASSESSMENTS = "regional.assessments"
REGIONAL_TRAININGS = "regional.trainings"
REGIONAL_DEFICITS = "regional.deficits"

INBOUND = (
    REGIONAL_ACTIVITIES,
    REGIONAL_ATTENDANCE,
    REGIONAL_ASSESSMENTS,
    REGIONAL_TRAININGS,
    REGIONAL_DEFICITS,
)

DLQ_SUFFIX = ".dlq"


def dead_letter(topic: str) -> str:
    """The dead-letter topic of ``topic``."""
    return f"{topic}{DLQ_SUFFIX}"


def is_dead_letter(topic: str) -> bool:
    return topic.endswith(DLQ_SUFFIX)


DEFAULT_PARTITIONS = 3
"""Partitions of every topic unless the deployment says otherwise (``KAFKA_TOPIC_PARTITIONS``).
A consumer group's instances share a topic's partitions: more instances than partitions idle."""

KEEP_FOR_EVER_MS = -1
DEAD_LETTER_RETENTION_MS = 30 * 24 * 60 * 60 * 1000
"""30 days."""

Kind = Literal["outbound", "audit", "inbound", "dead-letter"]


@dataclass(frozen=True)
class TopicSpec:
    """One topic as Setka declares it."""

    name: str
    kind: Kind
    retention_ms: int
    cleanup_policy: Literal["delete", "compact"] = "delete"
    partitions: int = DEFAULT_PARTITIONS

    def config(self, replication_factor: int) -> dict[str, str]:
        """The topic-level configuration to create it with (Kafka's names, string values)."""
        return {
            "retention.ms": str(self.retention_ms),
            "cleanup.policy": self.cleanup_policy,
            "min.insync.replicas": str(min_insync_replicas(replication_factor)),
        }


def min_insync_replicas(replication_factor: int) -> int:
    """2 when there are 3 replicas or more (one broker may be down, a write is still on two), else 1."""
    if replication_factor < 1:
        raise ValueError(f"a replication factor of {replication_factor}: a topic needs at least one replica")
    return 2 if replication_factor >= 3 else 1


def _declare() -> tuple[TopicSpec, ...]:
    specs: list[TopicSpec] = []
    for name in OUTBOUND:
        specs.append(TopicSpec(name, "audit" if name == AUDIT else "outbound", KEEP_FOR_EVER_MS))
    for name in INBOUND:
        specs.append(TopicSpec(name, "inbound", KEEP_FOR_EVER_MS))
    for name in (*OUTBOUND, *INBOUND):
        specs.append(TopicSpec(dead_letter(name), "dead-letter", DEAD_LETTER_RETENTION_MS))
    return tuple(specs)


DECLARED: tuple[TopicSpec, ...] = _declare()
"""Every topic of the system: outbound, audit, inbound, and the dead-letter topic of each."""

_BY_NAME = {spec.name: spec for spec in DECLARED}


def spec_for(name: str) -> TopicSpec:
    """The declared spec of ``name``; a topic not declared (a test's, an integrator's experiment)
    is treated like its kind: ``….dlq`` as a dead-letter topic, anything else as a domain topic."""
    spec = _BY_NAME.get(name)
    if spec is not None:
        return spec
    if is_dead_letter(name):
        return TopicSpec(name, "dead-letter", DEAD_LETTER_RETENTION_MS)
    return TopicSpec(name, "outbound", KEEP_FOR_EVER_MS)


def config_for(name: str, replication_factor: int) -> dict[str, str]:
    """The configuration ``name`` is created with, for a topic of ``replication_factor`` replicas."""
    return spec_for(name).config(replication_factor)
