"""Issue 19, HTTP ingestion: 10,000 facts go in through the gateway's ``POST /facts`` (batched
CloudEvents, a source's bearer token) while the events service is SIGKILLed in the middle; each
fact answered 202 is applied exactly once.

Real processes (the stack as ``make run`` starts it, on PostgreSQL). The sender is a plain HTTP
client that does what a regional system is told to do (docs/integrators.md): a batch that is not
answered 202 or 200 is sent again, unchanged, until it is.
"""

from __future__ import annotations

import asyncio
import json
import signal
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from deploy.local_stack import Stack
from operations import sources
from tests.e2e.test_event_flow_failures import (
    SCHOOLS,
    fetch_value,
    inn,
    register_source,
    seed_schools,
)
from tests.helpers import eventually

pytestmark = [pytest.mark.e2e, pytest.mark.failure]

TOTAL = 10_000
BATCH = 250
SOURCE = "/regional/rcoi-http"
RECORDED = "setka.events.assessment.recorded.v1"


def batch(start: int, count: int) -> list[dict[str, Any]]:
    recorded = datetime.now(UTC).replace(microsecond=0).isoformat()
    events = []
    for index in range(start, start + count):
        school, rest = index % SCHOOLS, index // SCHOOLS
        events.append(
            {
                "specversion": "1.0",
                "id": f"http-{index}",
                "source": SOURCE,
                "type": "setka.regional.assessment.published.v1",
                "datacontenttype": "application/json",
                "data": {
                    "source_system": "rcoi-http",
                    "external_id": f"H-{index}",
                    "organization": {"inn": inn(school)},
                    "procedure": "vpr",
                    "subject": f"предмет {rest % 50}",
                    "grade": 1 + (rest // 50) % 11,
                    "year": 2000 + rest // 550,
                    "participants": 25,
                    "mean_score": 3.7,
                    "mark_shares": {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
                    "recorded_at": recorded,
                },
            }
        )
    return events


async def test_every_fact_answered_202_is_applied_exactly_once_across_a_kill(
    events_stack: Stack, service_databases: dict[str, str]
) -> None:
    url = service_databases["events"]
    await seed_schools(url)
    await register_source(url, SOURCE, "rcoi-http")
    token, _ = await sources.issue_token(url, SOURCE)  # what `setka sources token` does
    facts_url = events_stack.service_url("gateway") + "/facts"
    headers = {"authorization": f"Bearer {token}", "content-type": "application/cloudevents-batch+json"}
    answers: dict[int, list[int]] = {}
    """Each batch's answers, in order (an error without an answer is 0)."""
    killed = asyncio.Event()

    async def send(client: httpx.AsyncClient, start: int) -> None:
        body = json.dumps(batch(start, BATCH), ensure_ascii=False).encode()
        while True:
            try:
                status = (await client.post(facts_url, content=body, headers=headers)).status_code
            except httpx.HTTPError:
                status = 0
            answers.setdefault(start, []).append(status)
            if status in (200, 202):
                return
            assert status in (0, 502, 503), status  # the events service away: send it again
            await asyncio.sleep(0.2)

    async def kill_midway() -> None:
        await eventually(lambda: _answered(answers, TOTAL // 2), timeout=60, interval=0.05)
        process = events_stack.processes["events"]
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
        killed.set()
        events_stack.start_process("events")

    async with httpx.AsyncClient(timeout=30) as client:
        killer = asyncio.create_task(kill_midway())
        for start in range(0, TOTAL, BATCH * 4):  # four requests at a time
            await asyncio.gather(
                *(send(client, s) for s in range(start, min(start + BATCH * 4, TOTAL), BATCH))
            )
        await killer
    assert killed.is_set()
    assert all(statuses[-1] in (200, 202) for statuses in answers.values())
    assert any(202 in statuses for statuses in answers.values())

    async def all_applied() -> bool:
        # applied, and marked so (the mark follows the consumer's transaction)
        return (
            await fetch_value(url, "SELECT count(*) FROM accepted_fact WHERE applied_at IS NULL") == 0
            and await fetch_value(url, "SELECT count(*) FROM assessment_result") == TOTAL
        )

    await eventually(all_applied, timeout=120, interval=0.5)
    # exactly once: one kept fact, one result and one domain event per fact
    assert await fetch_value(url, "SELECT count(*) FROM accepted_fact") == TOTAL
    assert (
        await fetch_value(
            url, "SELECT count(*) FROM accepted_fact WHERE outcome NOT IN ('processed', 'duplicate')"
        )
        == 0
    )
    assert await fetch_value(url, f"SELECT count(*) FROM outbox WHERE event_type = '{RECORDED}'") == TOTAL
    assert await fetch_value(url, f"SELECT count(*) FROM inbox WHERE source = '{SOURCE}'") == TOTAL
    retried = sum(1 for statuses in answers.values() if len(statuses) > 1)
    print(f"\n{TOTAL} facts in {len(answers)} batches over HTTP, one kill: {retried} batches sent again")


async def _answered(answers: dict[int, list[int]], count: int) -> bool:
    return sum(BATCH for statuses in answers.values() if statuses[-1] in (200, 202)) >= count
