"""Done when: an operator lists a topic's dead letters and re-drives them once the cause is fixed.

The analytics service dead-letters registrations its projection cannot take; the operator's
command (a real process: ``python -m services.analytics dead-letters``) shows them with their
reason, key, headers and body; after the fix, re-driving them applies each exactly once, and
re-driving them again changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

import pytest
from setka_contracts import CloudEvent, topics
from setka_contracts.registry import OrganizationRegistered

from services.analytics import app as analytics
from services.analytics.projections import organization_registered
from tests.conftest import ROOT
from tests.helpers import eventually, produce
from tests.integration.test_consumer import count_in, registration, settings_for, wire

pytestmark = pytest.mark.integration


async def command(broker: Any, *args: str) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.analytics",
        "dead-letters",
        *args,
        cwd=ROOT,
        env={**os.environ, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap, "LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode()


async def test_dead_letters_are_listed_and_re_driven_exactly_once(
    broker: Any, service_databases: dict[str, str]
) -> None:
    url = service_databases["analytics"]
    service = analytics.Service.create(settings_for(broker, url))
    fixed = {"yet": False}

    async def projection(session: Any, data: OrganizationRegistered, event: CloudEvent) -> None:
        if data.region_code == "94" and not fixed["yet"]:
            raise RuntimeError("region 94 is not configured")
        await organization_registered(session, data, event)

    service.consume(topics.REGISTRY, {OrganizationRegistered: projection})
    broken = [registration("94") for _ in range(2)]
    fine = registration("95")
    async with service.running():
        await asyncio.wait_for(service.connected.wait(), 60)
        await produce(broker.bootstrap, topics.REGISTRY, [wire(e) for e in [*broken, fine]])
        await eventually(lambda: _equals(count_in(url, "95"), 1))

        async def both_dead() -> bool:
            listed = await command(broker, "list", "--topic", topics.REGISTRY, "--json")
            return len(listed.splitlines()) == 2

        await eventually(both_dead, timeout=60)
        listed = [
            json.loads(line)
            for line in (await command(broker, "list", "--topic", topics.REGISTRY, "--json")).splitlines()
        ]
        assert {letter["headers"]["ce_id"] for letter in listed} == {e.id for e in broken}
        assert all("region 94 is not configured" in letter["reason"] for letter in listed)
        assert {letter["key"] for letter in listed} == {e.data["organization_id"] for e in broken}
        assert json.loads(listed[0]["body"])["region_code"] == "94"
        human = await command(broker, "list", "--topic", topics.REGISTRY)
        assert human.startswith("2 dead letters")
        assert "failed after N attempts" in human

        fixed["yet"] = True
        out = await command(broker, "redrive", "--topic", topics.REGISTRY, "--reason-contains", "region 94")
        assert out.strip().endswith("2 of 2 dead letters re-driven")
        await eventually(lambda: _equals(count_in(url, "94"), 2))
        await command(broker, "redrive", "--topic", topics.REGISTRY, "--all")  # once more, by mistake
        await produce(broker.bootstrap, topics.REGISTRY, [wire(registration("95"))])
        await eventually(lambda: _equals(count_in(url, "95"), 2))  # the stream went on past them
    assert await count_in(url, "94") == 2


async def _equals(value: Any, expected: int) -> bool:
    return (await value) == expected


async def test_a_letter_goes_back_only_to_the_topic_whose_dead_letters_hold_it(broker: Any) -> None:
    """A letter whose own header names another topic (anything that can write to a dead-letter
    topic could forge one naming ``setka.registry``) is re-driven to the declared original."""
    from setka_runtime.deadletters import read_letters, redrive

    from tests.helpers import read_topic

    event = registration("95")
    key, body, headers = wire(event)
    forged = {**headers, "dlq_reason": "rejected: test", "dlq_topic": topics.AUDIT}
    await produce(broker.bootstrap, topics.dead_letter(topics.REGIONAL_ASSESSMENTS), [(key, body, forged)])
    letters = await read_letters(broker.bootstrap, topics.REGIONAL_ASSESSMENTS)
    assert len(letters) == 1
    await redrive(broker.bootstrap, topics.REGIONAL_ASSESSMENTS, letters)
    back = await read_topic(broker.bootstrap, topics.REGIONAL_ASSESSMENTS, at_least=1)
    assert [record.value for record in back] == [body]
    audited = await read_topic(broker.bootstrap, topics.AUDIT, at_least=1)
    assert [json.loads(record.value)["operation"] for record in audited] == ["redrive"], (
        "only its audit entry"
    )
