"""Failure tests on real processes: SIGKILL mid-stream, SIGTERM mid-message, poison from outside."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest
from confluent_kafka import Producer
from setka_contracts import CloudEvent, topics
from setka_contracts.registry import OrganizationRegistered
from setka_runtime.access import Identity, Role, sign_internal
from sqlalchemy.engine import make_url

from deploy.local_stack import Stack
from tests.e2e.conftest import graphql, region_count, school
from tests.helpers import eventually, headers_of, read_topic

pytestmark = [pytest.mark.e2e, pytest.mark.failure]

REGISTER_DIRECT = """
mutation($input: RegisterOrganizationInput!) { registerOrganization(input: $input) { __typename } }"""


ADMIN = Identity(subject="test-admin", roles=frozenset({Role.regional_admin}), region_code="*")


async def register(stack: Stack, number: int, region: str) -> None:
    """Straight to the registry's subgraph, as fast as it takes them."""
    body = await graphql(
        f"{stack.service_url('registry')}/graphql",
        REGISTER_DIRECT,
        {"input": school(number, region)},
        token=sign_internal(ADMIN, stack.internal_secret),  # as the gateway passes the caller on
    )
    assert body["data"]["registerOrganization"]["__typename"] == "Organization", body


async def test_analytics_killed_mid_stream_counts_every_event_exactly_once(stack: Stack) -> None:
    total = 80
    for number in range(total):
        await register(stack, number, "77")
        if number == 25:
            await eventually(lambda: _at_least(region_count(stack, "77"), 5))
            stack.processes["analytics"].send_signal(signal.SIGKILL)
            stack.processes["analytics"].wait(10)
        if number == 50:
            stack.start_process("analytics")
    stack.wait_ready("analytics")
    await eventually(lambda: _equals(region_count(stack, "77"), total), timeout=90)
    await asyncio.sleep(3)  # redeliveries after the restart would show up as an overshoot
    assert await region_count(stack, "77") == total


async def test_a_message_being_handled_at_sigterm_is_not_committed_and_is_handled_after_restart(
    stack: Stack, service_databases: dict[str, str]
) -> None:
    dsn = make_url(service_databases["analytics"]).render_as_string(hide_password=False)
    blocker = await asyncpg.connect(dsn)
    try:
        transaction = blocker.transaction()
        await transaction.start()
        await blocker.execute("LOCK TABLE region_summary IN ACCESS EXCLUSIVE MODE")
        await register(stack, 1, "78")

        async def analytics_is_waiting_on_the_lock() -> bool:
            waiting = await blocker.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
            )
            return waiting > 0

        await eventually(analytics_is_waiting_on_the_lock, timeout=60)
        stack.stop_process("analytics", sig=signal.SIGTERM, timeout=30)
        # uvicorn re-raises the signal after its graceful shutdown, so the exit code is -15 either way
        log = (stack.var_dir / "analytics.log").read_text()
        assert "Application shutdown complete" in log.rsplit("Shutting down", 1)[-1]
        await transaction.rollback()
        assert await blocker.fetchval("SELECT count(*) FROM region_summary") == 0
        # the registration's audit entry (setka.audit, not blocked) may be in; the event is not
        assert (
            await blocker.fetchval("SELECT count(*) FROM inbox WHERE event_type NOT LIKE 'setka.audit.%'")
            == 0
        )
    finally:
        await blocker.close()

    stack.start_process("analytics")
    stack.wait_ready("analytics")
    await eventually(lambda: _equals(region_count(stack, "78"), 1), timeout=60)


async def test_poison_from_another_kafka_client_is_dead_lettered_and_valid_messages_flow(
    stack: Stack,
) -> None:
    bootstrap = f"127.0.0.1:{stack.ports['kafka']}"
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": False})

    def send(key: str, value: bytes, headers: dict[str, str]) -> None:
        producer.produce(topics.REGISTRY, value=value, key=key, headers=list(headers.items()))

    def valid() -> CloudEvent:
        data = {
            "organization_id": str(uuid.uuid4()),
            "full_name": "Школа из региональной системы",
            "short_name": "Школа",
            "kind": "school",
            "region_code": "79",
            "registered_at": datetime.now(UTC).isoformat(),
        }
        return CloudEvent(type=OrganizationRegistered.event_type, source="/regional/lms", data=data)

    wrong = valid()
    wrong.data["kind"] = "zoo"
    for event in (valid(), valid()):
        send(event.data["organization_id"], event.body(), event.headers())
    send("p1", b"\xff\xfe not json", valid().headers())
    send("p2", wrong.body(), wrong.headers())
    send("p3", json.dumps({"a": 1}).encode(), {"content-type": "application/json"})
    last = valid()
    send(last.data["organization_id"], last.body(), last.headers())
    assert producer.flush(30) == 0

    await eventually(lambda: _equals(region_count(stack, "79"), 3), timeout=60)
    dead = await read_topic(bootstrap, topics.dead_letter(topics.REGISTRY), at_least=7, timeout=120)
    reasons = {record.key.decode(): headers_of(record)["dlq_reason"] for record in dead}
    by_consumer = sorted((headers_of(r)["dlq_consumer"], r.key.decode()) for r in dead)
    # Each consumer group of the registry topic refuses what it cannot read: events and analytics
    # every poison message; the notifier only the one that is no CloudEvent at all (no ce_type
    # header). The two whose headers name a type it does not take (an organization registered) it
    # ignores without reading them further: the groups that take the type refuse them.
    assert by_consumer == [
        ("setka.analytics", "p1"),
        ("setka.analytics", "p2"),
        ("setka.analytics", "p3"),
        ("setka.events", "p1"),
        ("setka.events", "p2"),
        ("setka.events", "p3"),
        ("setka.events.notifications", "p3"),
    ]
    assert reasons["p1"].startswith("invalid envelope: data is not valid JSON")
    assert "kind: Input should be 'school'" in reasons["p2"]
    assert reasons["p3"].startswith("invalid envelope: missing CloudEvents headers: ce_id, ce_type")


async def _equals(value: object, expected: int) -> bool:
    return (await value) == expected  # type: ignore[misc]


async def _at_least(value: object, expected: int) -> bool:
    return (await value) >= expected  # type: ignore[misc]
