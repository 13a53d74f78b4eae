"""``make run`` supervises: a killed service comes back while the others serve, a killed local
broker comes back with its topics refilled from the outboxes, and no registration is lost."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from setka_contracts import topics
from setka_contracts.registry import OrganizationRegistered
from setka_runtime.access import Identity, Role, sign_internal
from setka_runtime.local_broker import free_port

from deploy.local_stack import PROCESSES, RestartPolicy, Stack
from tests.e2e.conftest import REGISTER, graphql, region_count, school
from tests.helpers import eventually, headers_of, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.failure]

REGION = "61"
ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code="*")
BACK_WITHIN_SECONDS = 60.0
"""A deadline, not a pause: the restarted process answers /readyz well before it."""


@pytest.fixture
def supervised(
    tmp_path: Path, service_databases: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Stack]:
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    ports = {name: free_port() for name in ("kafka", *PROCESSES)}
    env = {f"{name.upper()}_DATABASE_URL": url for name, url in service_databases.items()}
    env |= {
        "CONSUMER_BACKOFF_SECONDS": "0.05",
        "CONSUMER_GRACEFUL_SECONDS": "3",
        "OUTBOX_POLL_SECONDS": "0.2",
    }
    running = Stack(
        var_dir=tmp_path / "var",
        ports=ports,
        env=env,
        seed_demo=False,
        echo=False,
        supervised=True,
        restart_policy=RestartPolicy(first_seconds=0.2),
    )
    try:
        running.start()
        yield running
    finally:
        running.stop()


class Registrar:
    """Registers schools of one region, through the gateway or, while it is away, the registry."""

    def __init__(self, stack: Stack, admin_token: str) -> None:
        self.stack = stack
        self.admin_token = admin_token
        self.count = 0

    async def through_gateway(self) -> None:
        body = await graphql(
            self.stack.gateway_url,
            REGISTER,
            {"input": school(self.count, REGION)},
            token=self.admin_token,
        )
        assert body["data"]["registerOrganization"]["__typename"] == "Organization", body
        self.count += 1

    async def accepted(self) -> bool:
        """Register through the gateway if it takes it now (the services may still be reconnecting)."""
        try:
            await self.through_gateway()
        except (httpx.HTTPError, KeyError, TypeError):
            return False
        return True

    async def straight_to_registry(self) -> None:
        body = await graphql(
            f"{self.stack.service_url('registry')}/graphql",
            REGISTER,
            {"input": school(self.count, REGION)},
            token=sign_internal(ADMIN, self.stack.internal_secret),  # as the gateway passes it on
        )
        assert body["data"]["registerOrganization"]["__typename"] == "Organization", body
        self.count += 1


async def answers(client: httpx.AsyncClient, url: str) -> bool:
    try:
        return (await client.get(url)).status_code == 200
    except httpx.TransportError:
        return False


async def kill_and_watch(stack: Stack, name: str, during_outage: Registrar | None) -> None:
    """SIGKILL ``name``; until it is ready again, the others' /healthz must answer every time."""
    old = stack.processes[name]
    old.send_signal(signal.SIGKILL)
    old.wait(10)
    others = [stack.service_url(other) for other in PROCESSES if other != name]
    polls = 0
    async with httpx.AsyncClient(timeout=5) as client:
        if during_outage is not None:
            if name == "gateway":
                await during_outage.straight_to_registry()
            else:
                await during_outage.through_gateway()

        async def back() -> bool:
            nonlocal polls
            for url in others:
                assert await answers(client, f"{url}/healthz"), (
                    f"{url} stopped answering while {name} was down"
                )
            polls += 1
            return stack.processes[name] is not old and await answers(
                client, f"{stack.service_url(name)}/readyz"
            )

        await eventually(back, timeout=BACK_WITHIN_SECONDS, interval=0.1)
    assert polls >= 2  # the others were asked while it was away, not only once it was back


async def test_killed_processes_come_back_and_nothing_is_lost(supervised: Stack, admin_token: str) -> None:
    stack = supervised
    registrar = Registrar(stack, admin_token)
    await registrar.through_gateway()
    for name in PROCESSES:
        await registrar.through_gateway()  # before the kill
        # while it is away: a registration the registry can take (not while the registry is down)
        await kill_and_watch(stack, name, registrar if name != "registry" else None)
        await registrar.through_gateway()  # right after it is back
    assert stack.restarts == dict.fromkeys(PROCESSES, 1)
    log = (stack.var_dir / "supervisor.log").read_text()
    for name in PROCESSES:
        assert f"{name} exited with code -9 (SIGKILL)" in log
    await eventually(lambda: _equals(region_count(stack, REGION), registrar.count), timeout=60)

    # the local broker dies with every topic it held
    assert stack.broker is not None
    dead = stack.broker
    dead.send_signal(signal.SIGKILL)
    dead.wait(10)
    await eventually(lambda: _true(stack.broker is not dead and len(stack.refills) == 1), timeout=60)
    assert stack.restarts["tansu"] == 1
    assert stack.refills[0] >= registrar.count
    bootstrap = f"127.0.0.1:{stack.ports['kafka']}"
    refilled = await read_topic(bootstrap, topics.REGISTRY, at_least=registrar.count)
    registered = [r for r in refilled if headers_of(r).get("ce_type") == OrganizationRegistered.event_type]
    assert len({headers_of(r)["ce_id"] for r in registered}) == registrar.count
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        present = set(await admin.list_topics())
    finally:
        await admin.close()
    declared = {*topics.OUTBOUND, *topics.INBOUND}
    assert declared | {topics.dead_letter(name) for name in declared} <= present

    await eventually(registrar.accepted, timeout=BACK_WITHIN_SECONDS)
    await eventually(lambda: _equals(region_count(stack, REGION), registrar.count), timeout=60)
    # analytics has read the whole refilled topic again, and its inbox absorbed every repeat
    await eventually(
        lambda: caught_up(bootstrap, "setka.analytics", topics.REGISTRY, records=registrar.count),
        timeout=60,
    )
    assert await region_count(stack, REGION) == registrar.count
    for name in PROCESSES:
        stack.wait_ready(name, timeout=BACK_WITHIN_SECONDS)
    log = (stack.var_dir / "supervisor.log").read_text()
    assert "the local broker exited with code -9 (SIGKILL)" in log
    assert "did not rejoin" not in log  # the refill waited for the consumers to rejoin first


def test_restarts_back_off_while_a_process_keeps_failing_and_reset_once_it_stayed_up() -> None:
    policy = RestartPolicy()
    delays: list[float] = []
    previous: float | None = None
    for _ in range(9):
        previous = policy.next_delay(previous, uptime=1.0)
        delays.append(previous)
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert policy.next_delay(30.0, uptime=60.0) == 0.5


async def caught_up(bootstrap: str, group: str, topic: str, *, records: int) -> bool:
    """Whether ``group`` has committed past the last record of every partition of ``topic``.

    The ends come from the records themselves: after a batch of several records Tansu reports a
    partition's end offset as the batch's first offset + 1."""
    ends: dict[TopicPartition, int] = {}
    for record in await read_topic(bootstrap, topic, at_least=records):
        tp = TopicPartition(topic, record.partition)
        ends[tp] = max(ends.get(tp, 0), record.offset + 1)
    # a client of the group that does not join it: it only reads the group's committed offsets
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        committed = {tp: await consumer.committed(tp) for tp in ends}
    finally:
        await consumer.stop()
    return bool(ends) and all(committed[tp] == end for tp, end in ends.items())


async def _equals(value: object, expected: int) -> bool:
    return (await value) == expected  # type: ignore[misc]


async def _true(value: bool) -> bool:
    await asyncio.sleep(0)
    return value
