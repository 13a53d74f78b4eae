"""Several guarded consumers of one group behind a single Kafka subscription.

Every consumer group costs a join at start-up, and brokers delay the first join of a group
(Tansu by about five seconds, Apache Kafka by ``group.initial.rebalance.delay.ms``); a FastStream
broker starts its subscribers one after another. A service that reads many topics therefore
subscribes once to all of them and routes each record, by its topic, to that topic's
:class:`~setka_runtime.kafka.GuardedConsumer` (which keeps its own handlers and dead-letter topic).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from .kafka import GuardedConsumer, subscribe


class SharedSubscription:
    """One subscription of ``group`` to the topics of ``consumers``; call before the broker starts."""

    def __init__(self, broker: KafkaBroker, group: str, consumers: Sequence[GuardedConsumer]) -> None:
        wrong = [c.topic for c in consumers if c.group != group]
        if wrong:
            raise ValueError(f"consumers of {', '.join(wrong)} are not in group {group}")
        self._broker = broker
        self.group = group
        self._by_topic = {consumer.topic: consumer for consumer in consumers}

    def subscribe(self) -> None:
        subscribe(self._broker, list(self._by_topic), group=self.group, handler=self._on_message)

    async def _on_message(self, body: Any, message: KafkaMessage) -> None:
        consumer = self._by_topic[message.raw_message.topic]
        await consumer._on_message(body, message)
