"""Issue 19, a source's credentials live in the source registry: a regional admin issues a bearer
token of a source of their region through the gateway (shown once, only its digest kept, audited),
the regional system sends facts with it through the gateway's ``POST /facts``, and once revoked the
token is refused at the next request (401, the reason in Russian). A regional admin's own token
sends facts only for the registered sources of their region.

On the real broker and PostgreSQL: the events service runs in this process behind a real gateway.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from setka_contracts import topics
from setka_contracts.identifiers import inn_check_digit
from setka_runtime.access import DEV_INTERNAL_SECRET
from setka_runtime.service import Service
from sqlalchemy import text
from starlette.routing import Route

from gateway.app import create_app as create_gateway
from gateway.auth import issue_token
from gateway.settings import GatewaySettings
from services.events import app as events
from services.events import sources
from services.events.models import KnownOrganization
from services.events.schema import schema
from services.events.settings import EventsSettings
from tests.helpers import eventually, served

pytestmark = pytest.mark.integration

OURS = "/regional/rcoi-39"
THEIRS = "/regional/rcoi-08"


def inn(region: str, number: int) -> str:
    body = f"{region}{number:07d}"
    return body + inn_check_digit(body)


@dataclass
class Running:
    service: Service
    gateway: str

    async def value(self, sql: str, **params: Any) -> Any:
        async with self.service.db.session() as session:
            return (await session.execute(text(sql), params)).scalar_one()


def person(region: str, subject: str = "admin", roles: tuple[str, ...] = ("regional_admin",)) -> str:
    return issue_token(GatewaySettings(), subject=subject, roles=list(roles), region_code=region)


@pytest.fixture
async def running(broker: Any, service_databases: dict[str, str]) -> AsyncIterator[Running]:
    service = events.build(
        EventsSettings(
            database_url=service_databases["events"],
            kafka_bootstrap_servers=broker.bootstrap,
            consumer_graceful_seconds=2,
            internal_token_secret=DEV_INTERNAL_SECRET,
        )
    )
    now = datetime.now(UTC)
    async with service.db.session() as session, session.begin():
        for region in ("39", "08"):
            session.add(
                KnownOrganization(
                    id=uuid.uuid4(),
                    short_name=f"Школа {region}",
                    kind="school",
                    region_code=region,
                    inn=inn(region, 1),
                    updated_at=now,
                )
            )
        for ce_source, region in ((OURS, "39"), (THEIRS, "08")):
            await sources.register(
                session,
                ce_source=ce_source,
                region_code=region,
                title=f"РЦОИ {region}",
                grants={
                    sources.GrantKind.source_system: [f"rcoi-{region}"],
                    sources.GrantKind.topic: [topics.REGIONAL_ASSESSMENTS],
                    sources.GrantKind.region: [region],
                },
            )
    intake = service.context["intake"]
    app = service.asgi(schema, extra_routes=[Route("/facts", intake.receive, methods=["POST"])])
    async with service.running(), served(app, lifespan="off") as events_base:
        await asyncio.wait_for(service.connected.wait(), 60)
        gateway = create_gateway(
            GatewaySettings(
                registry_url="http://127.0.0.1:9/graphql",
                events_url=f"{events_base}/graphql",
                analytics_url="http://127.0.0.1:9/graphql",
            )
        )
        async with served(gateway) as gateway_base:
            yield Running(service, gateway_base)


def fact(ce_source: str, index: int) -> dict[str, Any]:
    region = ce_source.rsplit("-", 1)[1]
    return {
        "specversion": "1.0",
        "id": f"cred-{index}",
        "source": ce_source,
        "type": "setka.regional.assessment.published.v1",
        "data": {
            "source_system": f"rcoi-{region}",
            "external_id": f"C-{index}",
            "organization": {"inn": inn(region, 1)},
            "procedure": "vpr",
            "subject": f"предмет {index}",
            "grade": 5,
            "year": 2025,
            "participants": 25,
            "mean_score": 3.7,
            "mark_shares": {"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
            "recorded_at": datetime.now(UTC).replace(microsecond=0).isoformat(),
        },
    }


ISSUE = """mutation($s: String!) { issueSourceToken(ceSource: $s) { __typename
  ... on IssuedSourceToken { token tokenId source { ceSource tokens { id issuedBy revokedAt } } }
  ... on ValidationError { code message } } }"""
REVOKE = """mutation($s: String!, $id: ID) { revokeSourceToken(ceSource: $s, tokenId: $id) { __typename
  ... on RegionalSource { tokens { id revokedAt revokedBy } } ... on ValidationError { code message } } }"""
LISTED = (
    """query($r: String!) { regionalSources(regionCode: $r) { ceSource tokens { id issuedBy revokedAt } } }"""
)


async def graphql(running: Running, token: str, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=running.gateway, timeout=60) as client:
        answer = await client.post(
            "/graphql",
            json={"query": query, "variables": variables},
            headers={"authorization": f"Bearer {token}"},
        )
    return answer.json()  # type: ignore[no-any-return]


async def send(running: Running, token: str, *events: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=running.gateway, timeout=60) as client:
        return await client.post(
            "/facts",
            content=json.dumps(list(events), ensure_ascii=False),
            headers={
                "authorization": f"Bearer {token}",
                "content-type": "application/cloudevents-batch+json",
            },
        )


async def test_a_token_issued_to_a_source_sends_its_facts_until_it_is_revoked(running: Running) -> None:
    admin = person("39", subject="ivanova")
    first = (await graphql(running, admin, ISSUE, s=OURS))["data"]["issueSourceToken"]
    assert first["__typename"] == "IssuedSourceToken", first
    token = first["token"]
    assert token.startswith("setka-src_")
    assert first["source"]["tokens"] == [{"id": first["tokenId"], "issuedBy": "ivanova", "revokedAt": None}]

    # another region's admin issues no token of this source
    refused = await graphql(running, person("08"), ISSUE, s=OURS)
    assert refused.get("errors") or refused["data"]["issueSourceToken"]["__typename"] == "ValidationError"

    # only the digest is kept, and the issuing is in the audit trail (without the token)
    assert await running.value("SELECT count(*) FROM source_credential") == 1
    kept = await running.value("SELECT string_agg(digest || issued_by, ' ') FROM source_credential")
    assert token not in kept and token.removeprefix("setka-src_") not in kept
    audited = await running.value(
        "SELECT string_agg(payload, ' ') FROM outbox WHERE topic = 'setka.audit'"
        " AND payload LIKE '%issueSourceToken%'"
    )
    assert audited and token.removeprefix("setka-src_") not in audited

    # the token sends its own source's facts through the gateway, and they are applied
    sent = await send(running, token, fact(OURS, 1))
    assert sent.status_code == 202, sent.text

    async def applied() -> bool:
        return await running.value("SELECT count(*) FROM assessment_result") == 1

    await eventually(applied, timeout=30)
    # it authenticates exactly its source: not another source's facts
    foreign = await send(running, token, fact(THEIRS, 2))
    assert foreign.status_code == 403 and "[SOURCE_TOKEN_OTHER_SOURCE]" in foreign.json()["reason"]

    # a second token, then the first one revoked alone: the first is refused at once, the second sends
    second = (await graphql(running, admin, ISSUE, s=OURS))["data"]["issueSourceToken"]
    revoked = (await graphql(running, admin, REVOKE, s=OURS, id=first["tokenId"]))["data"]
    tokens = {t["id"]: t for t in revoked["revokeSourceToken"]["tokens"]}
    assert tokens[first["tokenId"]]["revokedAt"] and tokens[first["tokenId"]]["revokedBy"] == "ivanova"
    assert tokens[second["tokenId"]]["revokedAt"] is None
    refused_now = await send(running, token, fact(OURS, 3))
    assert refused_now.status_code == 401
    reason = refused_now.json()["reason"]
    assert "отозван" in reason and "[SOURCE_TOKEN_REVOKED]" in reason, reason
    assert (await send(running, second["token"], fact(OURS, 4))).status_code == 202

    # every token of the source revoked; an unknown one is refused too
    await graphql(running, admin, REVOKE, s=OURS)
    assert (await send(running, second["token"], fact(OURS, 5))).status_code == 401
    unknown = await send(running, "setka-src_" + "x" * 43, fact(OURS, 6))
    assert unknown.status_code == 401 and "[SOURCE_TOKEN_UNKNOWN]" in unknown.json()["reason"]
    listed = (await graphql(running, admin, LISTED, r="39"))["data"]["regionalSources"]
    assert [len(source["tokens"]) for source in listed] == [2]
    assert all(t["revokedAt"] for t in listed[0]["tokens"])
    assert (
        await running.value("SELECT count(*) FROM accepted_fact WHERE event_id IN ('cred-3', 'cred-5')") == 0
    )


async def test_a_regional_admin_sends_facts_only_for_the_sources_of_their_region(running: Running) -> None:
    ours = await send(running, person("39"), fact(OURS, 11))
    assert ours.status_code == 202, ours.text
    theirs = await send(running, person("39"), fact(THEIRS, 12))
    assert theirs.status_code == 403 and "[SOURCE_OUTSIDE_REGION]" in theirs.json()["reason"]
    unknown = await send(running, person("39"), fact("/regional/rcoi-77", 13))
    assert unknown.status_code == 403 and "[SOURCE_NOT_REGISTERED]" in unknown.json()["reason"]
    every = await send(running, person("*"), fact(THEIRS, 14))
    assert every.status_code == 202, every.text
    viewer = await send(running, person("39", roles=("viewer",)), fact(OURS, 15))
    assert viewer.status_code == 403
    kept = await running.value("SELECT string_agg(event_id, ',' ORDER BY event_id) FROM accepted_fact")
    assert kept == "cred-11,cred-14"
