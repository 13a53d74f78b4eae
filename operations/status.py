"""``setka status``: is every component ready, is Kafka reachable, and how far behind is each
consumer group, partition by partition.

Readiness is each component's own ``/readyz`` (a service: its database and Kafka; the gateway: the
three subgraphs). Lag is, for every partition of a topic a group has committed offsets on, the
partition's end offset minus the group's committed offset (a partition without a commit counts
from its earliest offset: the services start there). Groups are Setka's (``setka.*``) unless named.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from setka_runtime.local_broker import broker_trouble, read_broker_state

from .config import KafkaTarget

GROUP_PREFIX = "setka."
PROBE_FETCHES = 5
PROBE_WAIT_MS = 300

READY = "ready"
NOT_READY = "not ready"
UNREACHABLE = "unreachable"


@dataclass(frozen=True)
class Component:
    name: str
    url: str
    state: str
    """``ready``, ``not ready`` or ``unreachable``."""
    checks: dict[str, str] = field(default_factory=dict)
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.state == READY

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "url": self.url,
            "status": self.state,
            "ready": self.ok,
            "checks": self.checks,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class PartitionLag:
    topic: str
    partition: int
    committed: int | None
    """The group's committed offset; None when it has committed none on this partition."""
    end: int
    lag: int

    def as_json(self) -> dict[str, Any]:
        return {
            "topic": self.topic,
            "partition": self.partition,
            "committed": self.committed,
            "end": self.end,
            "lag": self.lag,
        }


@dataclass(frozen=True)
class GroupLag:
    group: str
    state: str
    members: int
    partitions: list[PartitionLag]

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def as_json(self) -> dict[str, Any]:
        return {
            "group": self.group,
            "state": self.state,
            "members": self.members,
            "lag": self.lag,
            "partitions": [p.as_json() for p in self.partitions],
        }


@dataclass(frozen=True)
class KafkaStatus:
    bootstrap_servers: str
    reachable: bool
    brokers: int = 0
    topics: int = 0
    groups: list[GroupLag] = field(default_factory=list)
    detail: str = ""
    lag_error: str = ""
    """Why the consumer groups' lag could not be read (Kafka answered otherwise)."""
    misshapen: list[str] = field(default_factory=list)
    """Declared topics whose partition count differs from the declaration (a client's metadata
    request created one first, with the broker's own count; or someone changed it)."""

    @property
    def ok(self) -> bool:
        return self.reachable and not self.lag_error and not self.misshapen

    def as_json(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap_servers,
            "status": "reachable" if self.reachable else UNREACHABLE,
            "reachable": self.reachable,
            "brokers": self.brokers,
            "topics": self.topics,
            "detail": self.detail,
            "lag_error": self.lag_error,
            "misshapen_topics": self.misshapen,
        }


@dataclass(frozen=True)
class Status:
    components: list[Component]
    kafka: KafkaStatus | None
    max_lag: int | None = None
    local_broker: dict[str, Any] | None = None
    """``make run``'s account of its in-memory broker (``var/local-broker.json``), if there is one."""

    @property
    def lag_exceeded(self) -> list[GroupLag]:
        if self.max_lag is None or self.kafka is None:
            return []
        return [group for group in self.kafka.groups if group.lag > self.max_lag]

    @property
    def ok(self) -> bool:
        kafka_ok = self.kafka is None or self.kafka.ok
        broker_ok = broker_trouble(self.local_broker) is None
        return all(c.ok for c in self.components) and kafka_ok and broker_ok and not self.lag_exceeded

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "components": [c.as_json() for c in self.components],
            "kafka": self.kafka.as_json() if self.kafka else None,
            "groups": [g.as_json() for g in self.kafka.groups] if self.kafka else [],
            "max_lag": self.max_lag,
            "lag_exceeded": [g.group for g in self.lag_exceeded],
            "local_broker": self.local_broker,
        }


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


async def readiness(client: httpx.AsyncClient, name: str, url: str) -> Component:
    """One component's ``/readyz``."""
    try:
        response = await client.get(f"{url}/readyz")
    except httpx.HTTPError as error:
        return Component(name, url, UNREACHABLE, detail=_reason(error))
    checks: dict[str, str] = {}
    with contextlib.suppress(ValueError, AttributeError):
        body = response.json()
        checks = {str(k): str(v) for k, v in (body.get("checks") or {}).items()}
    if response.status_code == 200:
        return Component(name, url, READY, checks)
    return Component(name, url, NOT_READY, checks, detail=f"/readyz answered {response.status_code}")


async def components(urls: Mapping[str, str], *, timeout: float) -> list[Component]:
    async with httpx.AsyncClient(timeout=timeout) as client:
        return list(await asyncio.gather(*(readiness(client, n, u) for n, u in urls.items())))


async def _describe(admin: AIOKafkaAdminClient, group: str) -> tuple[str, int]:
    """The group's state (Stable, Empty, …) and how many members it has. One group per request:
    some brokers (Tansu) answer a request for several with a response clients cannot read. The
    state is only shown, so a broker that cannot describe a group leaves it "unknown"."""
    try:
        for response in await admin.describe_consumer_groups([group]):
            for entry in response.groups:
                if entry[1] == group:
                    return entry[2] or "unknown", len(entry[5])
    except Exception:
        pass
    return "unknown", 0


async def consumer_lag(
    admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer, groups: list[str]
) -> list[GroupLag]:
    """Lag of each group on every partition of the topics it has committed offsets on."""
    topic_names = sorted(t for t in await admin.list_topics() if not t.startswith("__"))
    every: list[TopicPartition] = []
    if topic_names:
        for description in await admin.describe_topics(topic_names):
            if description.get("error_code"):
                continue
            every.extend(
                TopicPartition(description["topic"], p["partition"]) for p in description["partitions"]
            )
    found: list[tuple[str, str, int, dict[TopicPartition, int]]] = []
    for group in groups:
        state, members = await _describe(admin, group)
        committed: dict[TopicPartition, int] = {}
        if every:
            # Ask for the partitions by name: some brokers (Tansu) cannot answer "all of them".
            offsets = await admin.list_consumer_group_offsets(group, partitions=every)
            committed = {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
        found.append((group, state, members, committed))
    consumed = {tp.topic for *_, committed in found for tp in committed}
    partitions = sorted((tp for tp in every if tp.topic in consumed), key=lambda tp: (tp.topic, tp.partition))
    ends = await log_ends(consumer, partitions)
    starts = await consumer.beginning_offsets(partitions) if partitions else {}
    results: list[GroupLag] = []
    for group, state, members, committed in found:
        topics = {tp.topic for tp in committed}
        lags = []
        for tp in partitions:
            if tp.topic not in topics:
                continue
            position = committed.get(tp)
            behind = ends[tp] - (position if position is not None else starts[tp])
            lags.append(PartitionLag(tp.topic, tp.partition, position, ends[tp], max(0, behind)))
        results.append(GroupLag(group, state, members, lags))
    return results


async def log_ends(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
    """The offset the next message of each partition will get.

    Kafka's end offsets are exactly that. The local Tansu broker reports the first offset of a
    partition's last batch instead, so the records from there on are read (one fetch, nothing at
    all on Kafka) and the end moved past the last one seen."""
    if not partitions:
        return {}
    ends = dict(await consumer.end_offsets(partitions))
    consumer.assign(partitions)
    for tp in partitions:
        consumer.seek(tp, ends[tp])
    for _ in range(PROBE_FETCHES):
        fetched = await consumer.getmany(timeout_ms=PROBE_WAIT_MS)
        if not any(fetched.values()):
            break
        for tp, records in fetched.items():
            if records:
                ends[tp] = max(ends[tp], records[-1].offset + 1)
    consumer.assign([])
    return ends


async def misshapen_topics(admin: AIOKafkaAdminClient, present: Iterable[str], partitions: int) -> list[str]:
    """The declared topics present whose partition count is not ``partitions``."""
    from setka_contracts.topics import DECLARED

    declared = sorted({spec.name for spec in DECLARED} & set(present))
    if not declared:
        return []
    wrong = []
    for description in await admin.describe_topics(declared):
        count = len(description.get("partitions") or [])
        if not description.get("error_code") and count != partitions:
            wrong.append(f"{description['topic']}: {count} partitions, declared {partitions}")
    return sorted(wrong)


async def kafka_status(
    kafka: KafkaTarget,
    *,
    groups: Iterable[str] | None,
    prefix: str = GROUP_PREFIX,
    timeout: float,
    partitions: int | None = None,
) -> KafkaStatus:
    """Kafka reachable? Its brokers, topics, declared topics of another partition count than
    ``partitions`` (if given), and the lag of the chosen groups (``groups``, or every group whose
    id starts with ``prefix``)."""
    timeout_ms = max(1000, int(timeout * 1000))
    admin = AIOKafkaAdminClient(**kafka.options, request_timeout_ms=timeout_ms)
    consumer = AIOKafkaConsumer(
        **kafka.options, group_id=None, enable_auto_commit=False, request_timeout_ms=timeout_ms
    )
    try:
        try:
            async with asyncio.timeout(timeout * 2):
                await admin.start()
                await consumer.start()
                cluster = await admin.describe_cluster()
                topics = [t for t in await admin.list_topics() if not t.startswith("__")]
        except Exception as error:
            return KafkaStatus(kafka.bootstrap_servers, reachable=False, detail=_reason(error))
        reached = KafkaStatus(
            kafka.bootstrap_servers,
            reachable=True,
            brokers=len(cluster.get("brokers", [])),
            topics=len(topics),
        )
        if partitions is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(timeout * 2):
                    reached = replace(reached, misshapen=await misshapen_topics(admin, topics, partitions))
        try:
            async with asyncio.timeout(timeout * 4):
                if groups is None:
                    listed = await admin.list_consumer_groups()
                    chosen = sorted({entry[0] for entry in listed if str(entry[0]).startswith(prefix)})
                else:
                    chosen = list(dict.fromkeys(groups))
                lags = await consumer_lag(admin, consumer, chosen)
        except Exception as error:
            return replace(reached, lag_error=_reason(error))
        return replace(reached, groups=lags)
    finally:
        with contextlib.suppress(Exception):
            await consumer.stop()
        with contextlib.suppress(Exception):
            await admin.close()


async def collect(
    urls: Mapping[str, str],
    kafka: KafkaTarget | None,
    *,
    groups: Iterable[str] | None = None,
    timeout: float = 5.0,
    max_lag: int | None = None,
    local_broker_state: Path | str | None = None,
    partitions: int | None = None,
) -> Status:
    """Everything ``setka status`` shows; ``kafka`` None leaves Kafka out."""

    async def no_kafka() -> None:
        return None

    parts, broker = await asyncio.gather(
        components(urls, timeout=timeout),
        kafka_status(kafka, groups=groups, timeout=timeout, partitions=partitions)
        if kafka is not None
        else no_kafka(),
    )
    local = read_broker_state(local_broker_state)
    if local and kafka is not None and local.get("bootstrap"):
        # the state of make run's broker says nothing of another Kafka the command is pointed at
        checked = {address.strip() for address in kafka.bootstrap_servers.split(",")}
        if local["bootstrap"] not in checked:
            local = None
    return Status(components=parts, kafka=broker, max_lag=max_lag, local_broker=local)


def render(status: Status) -> str:
    """The human-readable report."""
    lines: list[str] = []
    if status.components:
        lines.append("Components")
        width = max(len(c.name) for c in status.components)
        for c in status.components:
            checks = ", ".join(f"{name} {value}" for name, value in c.checks.items())
            extra = "; ".join(part for part in (checks, c.detail) if part)
            lines.append(f"  {c.name:<{width}}  {c.state:<11}  {c.url}" + (f"  ({extra})" if extra else ""))
    if status.kafka is not None:
        k = status.kafka
        if k.reachable:
            brokers = f"{k.brokers} broker" + ("s" if k.brokers != 1 else "")
            lines.append(f"Kafka  {k.bootstrap_servers}  reachable, {brokers}, {k.topics} topics")
        else:
            lines.append(f"Kafka  {k.bootstrap_servers}  unreachable  ({k.detail})")
        for wrong in k.misshapen:
            lines.append(f"  topic not as declared: {wrong}")
        if k.lag_error:
            lines.append(f"Consumer lag: could not be read ({k.lag_error})")
        elif k.reachable:
            if not k.groups:
                lines.append("Consumer lag: no consumer groups yet")
            else:
                lines.append("Consumer lag")
            for group in k.groups:
                members = f"{group.members} member" + ("s" if group.members != 1 else "")
                flag = "  over --max-lag" if group in status.lag_exceeded else ""
                lines.append(f"  {group.group}  ({group.state}, {members})  total {group.lag}{flag}")
                for p in group.partitions:
                    committed = "-" if p.committed is None else str(p.committed)
                    lines.append(
                        f"    {p.topic}[{p.partition}]  committed {committed}  end {p.end}  lag {p.lag}"
                    )
    if status.local_broker is not None:
        lines.extend(render_local_broker(status.local_broker))
    lines.append("OK" if status.ok else "NOT OK")
    return "\n".join(lines)


def render_local_broker(state: Mapping[str, Any]) -> list[str]:
    """The in-memory broker of ``make run``: its state, restarts, and what its deaths lost."""
    restarts = state.get("restarts", 0)
    lines = [
        f"Local broker (in memory)  {state.get('state')} since {state.get('changed_at')}, "
        f"restarted {restarts} time(s)"
    ]
    if state.get("error"):
        lines.append(f"  last refill failed: {state['error']}")
    total = state.get("lost_total") or {}
    unread, dead = int(total.get("unread", 0)), int(total.get("dead_letters", 0))
    if unread or dead:
        lines.append(
            f"  LOST with its restarts: at least {unread} acknowledged inbound message(s) not yet read by a "
            f"consumer, {dead} dead letter(s); their senders must send them again"
        )
        last = state.get("last_loss") or {}
        for kind in ("unread", "dead_letters"):
            for topic, count in sorted((last.get(kind) or {}).items()):
                lines.append(f"    at {last.get('at')}: {topic}  {count}")
    elif restarts:
        lines.append(
            "  nothing unread was lost with its restarts (outbound topics were refilled from the outboxes)"
        )
    return lines
