"""``setka dlq list|replay``: a topic's dead letters (:mod:`setka_runtime.deadletters`), read
without a consumer group so nobody's offsets move, and chosen ones published back to the topic
they came from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from aiokafka.admin import AIOKafkaAdminClient
from setka_contracts.topics import DLQ_SUFFIX, dead_letter
from setka_runtime import deadletters
from setka_runtime.deadletters import Letter

from .config import KafkaTarget

CHUNK = 100
"""Letters re-published per producer session (the progress bar moves by as many)."""


def original_topic(topic: str) -> str:
    """``setka.registry`` for either ``setka.registry`` or ``setka.registry.dlq``."""
    return topic.removesuffix(DLQ_SUFFIX)


class NoSuchTopic(LookupError):
    """The dead-letter topic does not exist (a misspelt name, or nothing has created it yet)."""


async def _require(kafka: KafkaTarget, topic: str) -> None:
    admin = AIOKafkaAdminClient(**kafka.options)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    if dead_letter(topic) not in existing:
        known = sorted(name for name in existing if name.endswith(DLQ_SUFFIX))
        raise NoSuchTopic(
            f"Kafka at {kafka.bootstrap_servers} has no topic {dead_letter(topic)}"
            + (f"; its dead-letter topics: {', '.join(known)}" if known else "; it has no dead-letter topic")
        )


async def letters(kafka: KafkaTarget, topic: str) -> list[Letter]:
    """Every letter of the topic's ``.dlq``; :class:`NoSuchTopic` if there is no such topic."""
    topic = original_topic(topic)
    await _require(kafka, topic)
    return await deadletters.read_letters(kafka.options, topic)


@dataclass(frozen=True)
class Replayed:
    chosen: list[Letter]
    done: list[Letter]
    unknown_positions: list[str]
    total: int


async def replay(
    kafka: KafkaTarget,
    topic: str,
    *,
    positions: list[str],
    reason: str | None,
    every: bool,
    progress: Callable[[int], None] | None = None,
) -> Replayed:
    """Re-publish the chosen letters (by position ``partition:offset``, by a reason's words, or
    all); positions that name no letter are reported, not guessed at."""
    topic = original_topic(topic)
    await _require(kafka, topic)
    found = await deadletters.read_letters(kafka.options, topic)
    chosen = deadletters.choose(found, positions=positions, reason=reason, every=every)
    known = {letter.position for letter in found}
    unknown = [p for p in positions if p not in known]
    done: list[Letter] = []
    for start in range(0, len(chosen), CHUNK):
        batch = chosen[start : start + CHUNK]
        done.extend(await deadletters.redrive(kafka.options, topic, batch))
        if progress is not None:
            progress(len(batch))
    return Replayed(chosen=chosen, done=done, unknown_positions=unknown, total=len(found))
