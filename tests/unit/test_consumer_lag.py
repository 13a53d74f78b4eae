"""``setka_consumer_lag``: what a group has still to commit of each partition it holds, as its own
consumer sees it, and no series left behind for a partition that moved to another member."""

from __future__ import annotations

import pytest
from aiokafka import TopicPartition
from prometheus_client import REGISTRY
from setka_runtime.consumer import Subscription

pytestmark = pytest.mark.unit

GROUP = "setka.lag-test"


class Consumer:
    """The part of an AIOKafkaConsumer the lag is read from."""

    def __init__(self, ends: dict[TopicPartition, int]) -> None:
        self.ends = ends

    def assignment(self) -> set[TopicPartition]:
        return set(self.ends)

    def highwater(self, partition: TopicPartition) -> int | None:
        return self.ends.get(partition)


def lag(topic: str, partition: int) -> float | None:
    return REGISTRY.get_sample_value(
        "setka_consumer_lag", {"group": GROUP, "topic": topic, "partition": str(partition)}
    )


def test_lag_is_the_end_offset_minus_the_commit_and_goes_with_the_partition() -> None:
    first, second = TopicPartition("regional.assessments", 0), TopicPartition("regional.assessments", 1)
    subscription = Subscription(bootstrap_servers="127.0.0.1:9", group=GROUP, consumers=[], client_id="t")
    consumer = Consumer({first: 120, second: 7})
    subscription._consumer = consumer  # type: ignore[assignment]

    subscription._report_lag({first: 100, second: 7})  # before any commit: from the positions
    assert (lag("regional.assessments", 0), lag("regional.assessments", 1)) == (20, 0)

    subscription._committed.update({first: 110})
    consumer.ends[first] = 130
    subscription._report_lag()
    assert lag("regional.assessments", 0) == 20

    del consumer.ends[second]  # the group gave partition 1 to another member
    subscription._report_lag()
    assert lag("regional.assessments", 1) is None and lag("regional.assessments", 0) == 20
