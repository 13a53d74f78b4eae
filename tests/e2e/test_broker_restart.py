"""Done when (issue 22): the local broker of ``make run`` dies twice while a regional system keeps
publishing, and nothing acknowledged after the last restart is lost or doubled.

A client the project does not use (confluent-kafka, ``acks=all``) streams assessment results into
a supervised stack on PostgreSQL, as a regional system would; the in-memory broker is SIGKILLed
twice mid-stream and the producer goes on. Then: every fact acknowledged after the last kill is
applied exactly once; the topics have their declared partitions (no client created them first
with the broker's own count); no group's committed offset is beyond its log's end; every service
said "not ready" whenever the supervisor said it was refilling; and what the dead brokers held
unread is counted in ``setka status``, not silent.
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from confluent_kafka import Producer
from setka_contracts import topics
from setka_runtime.local_broker import REFILLING, SERVING, read_broker_state

from deploy.local_stack import RestartPolicy, Stack
from operations.status import consumer_lag
from tests.conftest import ROOT
from tests.e2e.conftest import stack_on
from tests.e2e.test_event_flow_failures import facts, fetch_value, seed_schools
from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.failure]

RECORDED = "setka.events.assessment.recorded.v1"


class Stream:
    """A regional system publishing facts with ``acks=all``, remembering when each was acknowledged."""

    def __init__(self, bootstrap: str) -> None:
        self.producer = Producer(
            {"bootstrap.servers": bootstrap, "acks": "all", "linger.ms": 5, "message.timeout.ms": 120_000}
        )
        self.acked: dict[int, float] = {}
        self.failed: dict[int, str] = {}
        self.sent = 0
        self._lock = threading.Lock()

    def send(self, count: int, *, pause: float = 0.0) -> None:
        """Publish the next ``count`` facts (``pause`` between groups of 100) and wait for their acks."""
        start = self.sent
        self.sent += count
        for index, (key, value, headers) in enumerate(facts(count, offset=start), start=start):
            while True:
                try:
                    self.producer.produce(
                        topics.REGIONAL_ASSESSMENTS,
                        value=value,
                        key=key,
                        headers=headers,
                        on_delivery=lambda error, _message, index=index: self._delivered(index, error),
                    )
                    break
                except BufferError:
                    self.producer.poll(0.1)
            self.producer.poll(0)
            if pause and index % 100 == 99:
                time.sleep(pause)
        assert self.producer.flush(180) == 0

    def _delivered(self, index: int, error: Any) -> None:
        with self._lock:
            if error is None:
                self.acked[index] = time.monotonic()
            else:
                self.failed[index] = str(error)

    def acked_after(self, moment: float) -> set[int]:
        with self._lock:
            return {index for index, at in self.acked.items() if at > moment}

    def acked_before(self, moment: float) -> set[int]:
        with self._lock:
            return {index for index, at in self.acked.items() if at <= moment}


class ReadinessDuringRefill:
    """Polls the events and analytics services' /readyz with the supervisor's state around each
    answer: whenever the state said "refilling" both before and after, the answer must be 503."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.refilling_answers: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        with httpx.Client(timeout=2) as client:
            while not self._stop.is_set():
                for name in ("events", "analytics"):
                    before = read_broker_state(self.stack.broker_state_path) or {}
                    try:
                        status = client.get(f"{self.stack.service_url(name)}/readyz").status_code
                    except httpx.HTTPError:
                        continue
                    after = read_broker_state(self.stack.broker_state_path) or {}
                    if before.get("state") == after.get("state") == REFILLING:
                        self.refilling_answers.append(status)
                self._stop.wait(0.02)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


@pytest.fixture
def supervised_events(
    tmp_path: Path, service_databases: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    running = stack_on(tmp_path / "var", service_databases)
    running.supervised = True
    running.restart_policy = RestartPolicy(first_seconds=0.3)
    try:
        running.start()
        yield running
    finally:
        running.stop()


def kill_broker(stack: Stack) -> float:
    assert stack.broker is not None
    dead = stack.broker
    killed_at = time.monotonic()
    dead.send_signal(signal.SIGKILL)
    dead.wait(10)
    return killed_at


async def serving_again(stack: Stack, restarts: int) -> None:
    async def back() -> bool:
        state = read_broker_state(stack.broker_state_path) or {}
        return stack.restarts.get("tansu", 0) == restarts and state.get("state") == SERVING

    await eventually(back, timeout=120, interval=0.1)


async def test_acknowledged_facts_survive_two_broker_restarts_or_are_counted_as_lost(
    supervised_events: Stack, service_databases: dict[str, str]
) -> None:
    stack = supervised_events
    url = service_databases["events"]
    bootstrap = f"127.0.0.1:{stack.ports['kafka']}"
    await seed_schools(url)
    stream = Stream(bootstrap)
    readiness = ReadinessDuringRefill(stack)
    try:
        # a burst the events service cannot have read entirely, then the broker dies
        await asyncio.to_thread(stream.send, 4000)
        kill_broker(stack)
        # the regional system goes on publishing while the broker is away and refilled
        await asyncio.to_thread(stream.send, 1000, pause=0.05)
        await serving_again(stack, 1)
        await asyncio.to_thread(stream.send, 1000)

        # the second death in the middle of a stream
        producing = asyncio.create_task(asyncio.to_thread(stream.send, 3000, pause=0.02))
        await asyncio.sleep(0.5)
        last_kill = kill_broker(stack)
        await producing
        await serving_again(stack, 2)
        await asyncio.to_thread(stream.send, 1000)
    finally:
        readiness.stop()

    assert not stream.failed, list(stream.failed.items())[:5]
    # acknowledged by the last broker: after clients could reach it (a delivery report is handed
    # to the producer's thread a little after the broker acknowledged, so the kill is no boundary)
    reachable = stack.broker_opened[-1]
    assert reachable > last_kill
    must_be_applied = stream.acked_after(reachable)
    assert len(must_be_applied) >= 1000

    async def applied() -> set[int]:
        rows = await fetch_value(
            url,
            "SELECT coalesce(json_agg(external_id), '[]') FROM assessment_result"
            " WHERE source_system = 'rcoi-e2e'",
        )
        return {int(external.removeprefix("E-")) for external in json.loads(rows)}

    async def all_applied() -> bool:
        return must_be_applied <= await applied()

    try:
        await eventually(all_applied, timeout=120, interval=1)
    except AssertionError:
        missing = sorted(must_be_applied - await applied())
        moments = [round(stream.acked[index] - reachable, 3) for index in missing[:20]]
        raise AssertionError(
            f"{len(missing)} facts acknowledged after the last restart were not applied: "
            f"{missing[:20]}, acknowledged {moments} s after the broker was reachable"
        ) from None
    done = await applied()
    # exactly once: one row and one domain event per fact
    assert await fetch_value(url, "SELECT count(*) FROM assessment_result") == len(done)
    await eventually(
        lambda: _equals(
            fetch_value(url, f"SELECT count(*) FROM outbox WHERE event_type = '{RECORDED}'"), len(done)
        ),
        timeout=60,
    )

    # the topics have their declared partitions
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        declared = [spec.name for spec in topics.DECLARED]
        shapes = {d["topic"]: len(d["partitions"]) for d in await admin.describe_topics(declared)}
        assert shapes == {spec.name: spec.partitions for spec in topics.DECLARED}
        # no committed offset stays beyond the end of its log
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            groups = await consumer_lag(admin, consumer, ["setka.events", "setka.analytics"])
        finally:
            await consumer.stop()
    finally:
        await admin.close()
    beyond = [
        (group.group, p.topic, p.partition, p.committed, p.end)
        for group in groups
        for p in group.partitions
        if p.committed is not None and p.committed > p.end
    ]
    assert not beyond
    assert any(group.group == "setka.events" and group.partitions for group in groups)

    # readiness said "not ready" for as long as the supervisor said it was refilling
    assert readiness.refilling_answers, "the refill was never seen running"
    assert set(readiness.refilling_answers) == {503}

    # what the first death took unread is counted, and setka status says so
    lost = stream.acked_before(reachable) - done
    state = read_broker_state(stack.broker_state_path) or {}
    reported = state["lost_total"]["unread"]
    print(
        f"\n{stream.sent} facts sent, {len(stream.acked)} acknowledged; {len(lost)} acknowledged before "
        f"the last kill never applied; reported lost: {reported} "
        f"({[loss['unread'] for loss in stack.losses]}); {len(must_be_applied)} acknowledged after "
        f"the last kill, all applied once; readiness 503 on {len(readiness.refilling_answers)} polls "
        "during refills"
    )
    if lost:
        assert reported > 0
    assert reported <= len(stream.acked_before(reachable))
    status = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "operations.cli", "status", "--only", "kafka"],
        cwd=ROOT,
        env={
            **_environment(),
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "LOCAL_BROKER_STATE_FILE": str(stack.broker_state_path),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "Local broker (in memory)  serving" in status.stdout, status.stdout + status.stderr
    assert "restarted 2 time(s)" in status.stdout
    if reported:
        assert f"LOST with its restarts: at least {reported} acknowledged inbound message(s)" in status.stdout


def _environment() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "LOCAL_BROKER_"))}


async def _equals(value: Any, expected: int) -> bool:
    return (await value) == expected  # type: ignore[no-any-return]


def http_fact(index: int) -> tuple[dict[str, str], bytes]:
    """Fact ``index`` as a regional system sends it over HTTP: CloudEvents binary mode."""
    _key, value, headers = facts(1, offset=index)[0]
    http = {name.replace("ce_", "ce-", 1): raw.decode() for name, raw in headers}
    return http, value


async def test_facts_sent_over_http_are_kept_before_they_are_acknowledged_and_survive_the_broker(
    supervised_events: Stack, service_databases: dict[str, str]
) -> None:
    """``POST /facts`` through the gateway: a 202 means the fact is in the events database, so
    the broker dying right after loses none of them; a bad fact is refused with its reason, a
    repeat is answered 200 and kept once, and only a regional admin may send."""
    from gateway.auth import issue_token
    from gateway.settings import GatewaySettings

    stack = supervised_events
    url = service_databases["events"]
    await seed_schools(url)
    facts_url = f"http://127.0.0.1:{stack.ports['gateway']}/facts"
    admin = issue_token(GatewaySettings(), subject="rcoi-e2e", roles=["regional_admin"], region_code="*")
    viewer = issue_token(GatewaySettings(), subject="portal", roles=["viewer"], region_code="39")
    count = 300
    async with httpx.AsyncClient(timeout=30) as client:

        async def send(index: int, token: str | None = admin, **changes: str) -> httpx.Response:
            headers, body = http_fact(index)
            headers |= changes
            if token:
                headers["authorization"] = f"Bearer {token}"
            return await client.post(facts_url, content=body, headers=headers)

        answers = [await send(index) for index in range(count)]
        kill_broker(stack)  # right after the last answer: nothing of them may be only in the broker
        assert [a.status_code for a in answers] == [202] * count, answers[0].text
        assert answers[0].json() == {"status": "accepted", "id": "e2e-0"}
        # while the broker is away, facts are still taken
        late = [await send(index) for index in range(count, count + 50)]
        assert {a.status_code for a in late} == {202}

        again = await send(0)
        assert again.status_code == 200 and again.json()["status"] == "already accepted"
        wrong = await send(count + 100, **{"ce-type": "setka.regional.nonsense.v1"})
        assert wrong.status_code == 400 and "is not accepted" in wrong.json()["reason"]
        _, body = http_fact(count + 101)
        broken = await client.post(
            facts_url,
            content=body.replace(b'"participants": 25', b'"participants": "many"'),
            headers={**http_fact(count + 101)[0], "authorization": f"Bearer {admin}"},
        )
        assert broken.status_code == 400 and "participants" in broken.json()["reason"], broken.text
        assert (await send(count + 102, token=None)).status_code in (401, 403)
        assert (await send(count + 103, token=viewer)).status_code == 403
        sneaky = await client.post(
            f"http://127.0.0.1:{stack.ports['gateway']}/facts/%2e%2e/metrics",
            headers={"authorization": f"Bearer {admin}"},
        )
        assert sneaky.status_code in (404, 405)

    async def all_applied() -> bool:
        return await fetch_value(url, "SELECT count(*) FROM assessment_result") == count + 50

    await eventually(all_applied, timeout=120, interval=0.5)
    assert await fetch_value(url, "SELECT count(*) FROM accepted_fact WHERE applied_at IS NULL") == 0
    assert await fetch_value(url, "SELECT count(*) FROM accepted_fact") == count + 50
