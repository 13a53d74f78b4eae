"""Dead letters for operators: list what a topic's consumers gave up on, and re-drive chosen ones.

``python -m services.<name> dead-letters list --topic regional.assessments`` reads
``regional.assessments.dlq`` from its beginning (without a consumer group, so nobody's offsets
move) and prints the count by reason and every letter with its original key, headers and body.
``... dead-letters redrive --topic regional.assessments --offset 0:12`` (or ``--reason-contains``,
or ``--all``) publishes the chosen letters back to their original topic, with their original key,
body and headers (the ``dlq_*`` ones dropped, ``setka_redriven_from`` added), once the broker has
acknowledged each. The consumers' inbox knows an event by its ``ce_source`` and ``ce_id``: a
letter re-driven twice is applied once. Every re-drive is an entry of the audit trail.

A letter cannot be edited. When a person's data is erased, :func:`purge` removes their letters:
on Apache Kafka it writes the other letters of the partition again after the last of the
person's, then deletes the records before it (``DeleteRecords``); a broker without
``DeleteRecords`` (the local Tansu) has the dead-letter topic deleted and created again with the
other letters — a letter written in between is lost, which the in-memory local broker accepts.
On Apache Kafka the purge needs :data:`PURGE_OPERATIONS` on each topic of :func:`purged_topics`
(the registry's Kafka user holds them: ``deploy/k8s/base/kafka-users.yaml``); a broker that
refuses one of them leaves the letters as they are and the purge fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import re
import sys
from collections import Counter
from dataclasses import dataclass
from typing import Any, TextIO

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from setka_contracts import decode_headers, printable_header
from setka_contracts.topics import DECLARED, DLQ_SUFFIX, dead_letter

from . import audit
from .kafka import Connection, as_options, client_options, new_topic
from .settings import ServiceSettings

log = logging.getLogger(__name__)

REDRIVEN_FROM = "setka_redriven_from"
NO_REASON = "(no reason recorded)"


PURGE_OPERATIONS = ("Read", "Write", "Delete", "Describe")
"""What :func:`purge` does to a dead-letter topic on Apache Kafka, as ACL operations: reads it from
the beginning without a consumer group (Fetch, ListOffsets: Read), looks it up (Metadata:
Describe), writes the other letters again (Produce: Write) and deletes the records before them
(DeleteRecords: Delete)."""

_REFUSED = (TopicAuthorizationFailedError, ClusterAuthorizationFailedError)
_UNKNOWN_TOPIC = 3


def purged_topics() -> list[str]:
    """The dead-letter topics :func:`purge` goes through unless told otherwise: that of every
    declared topic (:data:`setka_contracts.topics.DECLARED`)."""
    return [spec.name for spec in DECLARED if spec.kind == "dead-letter"]


REJECTED = "rejected: "
"""How the consumer prefixes the reason a rule gave (see ``consumer.Item.reject``)."""


def reason_kind(reason: str) -> str:
    """A dead letter's reason without its particulars, for counting: its first clause (after the
    consumer's «rejected:», which every rule's reason has), with ids and numbers out («does not
    match setka.regional…v1: host: …» → «does not match setka.regional…vN»)."""
    head = re.split(r"[:;(]", reason.removeprefix(REJECTED), maxsplit=1)[0].strip()
    return re.sub(r"\d+", "N", head)[:120] or NO_REASON


@dataclass(frozen=True)
class Letter:
    """One message of a dead-letter topic."""

    partition: int
    offset: int
    key: bytes | None
    headers: dict[str, str]
    raw_headers: list[tuple[str, bytes]]
    body: bytes

    @property
    def position(self) -> str:
        return f"{self.partition}:{self.offset}"

    @property
    def reason(self) -> str:
        return self.headers.get("dlq_reason", NO_REASON)

    @property
    def kind(self) -> str:
        return reason_kind(self.reason)

    def as_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "reason": self.reason,
            "key": self.key.decode("utf-8", "replace") if self.key is not None else None,
            "headers": self.headers,
            "body": self.body.decode("utf-8", "replace"),
        }


async def read_letters(kafka: Connection, topic: str, *, timeout: float = 5.0) -> list[Letter]:
    """Every letter of ``<topic>.dlq`` from the beginning, read without a consumer group.
    ``kafka``: a bootstrap string or :func:`~setka_runtime.kafka.client_options`."""
    name = dead_letter(topic)
    consumer = AIOKafkaConsumer(**as_options(kafka), enable_auto_commit=False, group_id=None)
    await consumer.start()
    letters: list[Letter] = []
    try:
        partitions = consumer.partitions_for_topic(name)
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = consumer.partitions_for_topic(name) or set()
        if not partitions:
            return []
        assigned = [TopicPartition(name, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        await consumer.seek_to_beginning(*assigned)
        ends = await consumer.end_offsets(assigned)
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            positions = [await consumer.position(tp) for tp in assigned]
            if all(position >= ends[tp] for position, tp in zip(positions, assigned, strict=True)):
                break
            for records in (await consumer.getmany(timeout_ms=300)).values():
                for record in records:
                    raw = [(k, v or b"") for k, v in (record.headers or [])]
                    letters.append(
                        Letter(
                            partition=record.partition,
                            offset=record.offset,
                            key=record.key,
                            headers={
                                printable_header(name): printable_header(value)
                                for name, value in decode_headers(raw).items()
                            },
                            raw_headers=raw,
                            body=record.value or b"",
                        )
                    )
    finally:
        await consumer.stop()
    return sorted(letters, key=lambda letter: (letter.partition, letter.offset))


def choose(letters: list[Letter], *, positions: list[str], reason: str | None, every: bool) -> list[Letter]:
    if every:
        return letters
    wanted = set(positions)
    return [
        letter
        for letter in letters
        if letter.position in wanted or (reason is not None and reason.lower() in letter.reason.lower())
    ]


async def redrive(
    kafka: Connection, topic: str, letters: list[Letter], *, subject: str | None = None
) -> list[Letter]:
    """Publish each letter back to ``topic``, the topic whose dead-letter topic holds it; return
    those the broker acknowledged, and record the re-drive in the audit trail (by ``subject``,
    the operator by default). The letter's own ``dlq_topic`` header is not trusted: anything
    that can write to a dead-letter topic could name ``setka.registry`` or ``setka.audit`` there."""
    producer = AIOKafkaProducer(**as_options(kafka), acks="all")
    await producer.start()
    done: list[Letter] = []
    try:
        for letter in letters:
            target = topic
            headers = [(k, v) for k, v in letter.raw_headers if not k.lower().startswith("dlq_")]
            headers = [(k, v) for k, v in headers if k != REDRIVEN_FROM]
            headers.append((REDRIVEN_FROM, f"{dead_letter(topic)}:{letter.position}".encode()))
            await producer.send_and_wait(target, letter.body, key=letter.key, headers=headers)
            done.append(letter)
    finally:
        await producer.stop()
        if done:
            made = audit.entry(
                service="operations",
                operation="redrive",
                subject=subject or audit.operator(),
                roles=[audit.OPERATOR_ROLE],
                caused=[(f"{dead_letter(topic)}:{letter.position}", "redriven", topic) for letter in done],
            )
            await audit.publish(kafka, made)
    return done


async def _write(
    producer: AIOKafkaProducer, name: str, letters: list[Letter], *, same_partition: bool
) -> None:
    for letter in letters:
        await producer.send_and_wait(
            name,
            letter.body,
            key=letter.key,
            headers=letter.raw_headers,
            partition=letter.partition if same_partition else None,
        )


async def purge(kafka: Connection, needles: list[str], *, topics: list[str] | None = None) -> int:
    """Remove every dead letter whose key, headers or body holds one of ``needles`` (an
    erased person's id, their name) from the dead-letter topics of ``topics`` (all declared
    ones by default); return how many were removed. The other letters stay, at new offsets."""
    wanted = [text.casefold() for text in needles if text]
    removed = 0
    originals = topics or [name.removesuffix(DLQ_SUFFIX) for name in purged_topics()]
    for topic in originals:
        letters = await read_letters(kafka, topic)

        def concerns(letter: Letter) -> bool:
            text = " ".join(
                [
                    (letter.key or b"").decode("utf-8", "replace"),
                    *letter.headers.values(),
                    letter.body.decode("utf-8", "replace"),
                ]
            ).casefold()
            return any(needle in text for needle in wanted)

        theirs = [letter for letter in letters if concerns(letter)]
        if not theirs:
            continue
        kept = [letter for letter in letters if not concerns(letter)]
        await _cut(kafka, dead_letter(topic), theirs, kept)
        removed += len(theirs)
        log.info("removed %d dead letters of an erased person from %s", len(theirs), dead_letter(topic))
    return removed


async def _cut(kafka: Connection, name: str, theirs: list[Letter], kept: list[Letter]) -> None:
    cuts = {}
    for letter in theirs:
        cuts[letter.partition] = max(cuts.get(letter.partition, 0), letter.offset + 1)
    admin = AIOKafkaAdminClient(**as_options(kafka))
    await admin.start()
    producer = AIOKafkaProducer(**as_options(kafka), acks="all")
    await producer.start()
    try:
        try:
            first = min(theirs, key=lambda letter: letter.offset)
            # deleting nothing (before the earliest letter) tells whether the broker can delete at all
            await admin.delete_records({TopicPartition(name, first.partition): RecordsToDelete(0)})
            supported = True
        except _REFUSED:
            raise  # the broker deletes records, but not for this user: nothing is written or deleted
        except (KafkaConnectionError, KafkaError) as error:
            log.info("%s: the broker cannot delete records (%s); the topic is written again", name, error)
            supported = False
        if supported:
            again = [k for k in kept if k.partition in cuts and k.offset < cuts[k.partition]]
            await _write(producer, name, again, same_partition=True)  # first written, then deleted
            await admin.delete_records(
                {TopicPartition(name, partition): RecordsToDelete(cut) for partition, cut in cuts.items()}
            )
            return
    finally:
        await producer.stop()
        await admin.close()
    await _recreate(kafka, name, kept)


async def _recreate(kafka: Connection, name: str, kept: list[Letter]) -> None:
    admin = AIOKafkaAdminClient(**as_options(kafka))
    await admin.start()
    try:
        described = await admin.describe_topics([name])
        partitions = len(described[0]["partitions"]) if described else None
        replicas = (
            len(described[0]["partitions"][0]["replicas"]) if described and described[0]["partitions"] else 1
        )
        deleted = await admin.delete_topics([name])
        refused = [code for _, code, *_ in deleted.topic_error_codes if code not in (0, _UNKNOWN_TOPIC)]
        if refused:  # the topic is still there: writing the letters again would double them
            raise KafkaError(f"{name} could not be deleted (error code {refused[0]})")
        for _ in range(50):  # the broker may still be deleting it
            response = await admin.create_topics(
                [new_topic(name, partitions=partitions, replication_factor=replicas)]
            )
            if all(error[1] == 0 for error in response.topic_errors):
                break
            await asyncio.sleep(0.1)
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**as_options(kafka), acks="all")
    await producer.start()
    try:
        await _write(producer, name, kept, same_partition=partitions is not None)
    finally:
        await producer.stop()


def print_letters(letters: list[Letter], *, full: bool, out: TextIO) -> None:
    counts = Counter(letter.kind for letter in letters)
    print(f"{len(letters)} dead letters", file=out)
    for kind, count in counts.most_common():
        print(f"  {count:6d}  {kind}", file=out)
    for letter in letters:
        body = letter.body.decode("utf-8", "replace")
        if not full and len(body) > 500:
            body = body[:500] + f"… ({len(letter.body)} bytes; --full shows all)"
        key = letter.key.decode("utf-8", "replace") if letter.key is not None else "(none)"
        print(f"\n[{letter.position}] {letter.reason}", file=out)
        print(f"  key: {key}", file=out)
        for name, value in letter.headers.items():
            if not name.startswith("dlq_"):
                print(f"  {name}: {value}", file=out)
        print(f"  body: {body}", file=out)


def arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="count by reason, then every letter")
    listing.add_argument("--topic", required=True, help="the original topic, e.g. regional.assessments")
    listing.add_argument("--json", action="store_true", help="one JSON object per letter")
    listing.add_argument("--full", action="store_true", help="whole bodies")
    again = actions.add_parser("redrive", help="publish chosen letters back to their topic")
    again.add_argument("--topic", required=True)
    again.add_argument("--offset", action="append", default=[], metavar="PARTITION:OFFSET")
    again.add_argument("--reason-contains", metavar="TEXT")
    again.add_argument("--all", action="store_true")


def run(args: argparse.Namespace, settings: ServiceSettings, *, out: TextIO = sys.stdout) -> int:
    kafka = client_options(settings)
    letters = asyncio.run(read_letters(kafka, args.topic))
    if args.action == "list":
        if args.json:
            for letter in letters:
                print(json.dumps(letter.as_json(), ensure_ascii=False), file=out)
        else:
            print_letters(letters, full=args.full, out=out)
        return 0
    if not (args.offset or args.reason_contains or args.all):
        print("choose letters with --offset P:O, --reason-contains TEXT or --all", file=out)
        return 2
    chosen = choose(letters, positions=args.offset, reason=args.reason_contains, every=args.all)
    done = asyncio.run(redrive(kafka, args.topic, chosen))
    for letter in done:
        print(f"re-driven {dead_letter(args.topic)}:{letter.position} → {args.topic}", file=out)
    print(f"{len(done)} of {len(letters)} dead letters re-driven", file=out)
    return 0
