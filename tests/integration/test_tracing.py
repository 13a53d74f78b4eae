"""Traces follow a change through the system: a mutation sent to the gateway, the registry's
subgraph, its outbox, the broker and the events service's consumer are spans of one trace; a
regional fact sent with a ``ce_traceparent`` continues its sender's trace into the consumer, one
sent without starts a trace there, and either consumer span carries the fact's ``ce_id``. A fact
sent over HTTP (``POST /facts`` through the gateway) is traced from the gateway's span through the
events service's entry span into its consumer, kept in between.

The spans go to OpenTelemetry's in-memory exporter (set up once for this process); the services,
the gateway and the broker are real.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from setka_contracts import CloudEvent, topics
from setka_contracts.regional import AssessmentResultPublished
from setka_runtime import tracing
from setka_runtime.access import DEV_INTERNAL_SECRET
from starlette.routing import Route

from gateway.app import create_app as create_gateway
from gateway.auth import issue_token
from gateway.settings import GatewaySettings
from services.events import app as events
from services.events import sources
from services.events.schema import schema as events_schema
from services.events.settings import EventsSettings
from services.registry import app as registry
from services.registry.settings import RegistrySettings
from tests.helpers import eventually, produce, served
from tests.integration.test_corrections_flow import REGION, UPDATE_NETWORK, build_registry_world

pytestmark = pytest.mark.integration

SENDER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SENDER_TRACEPARENT = f"00-{SENDER_TRACE}-00f067aa0ba902b7-01"


@pytest.fixture(scope="module")
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    assert tracing.setup("tests", exporter=exporter), "tracing was set up before, without this exporter"
    yield exporter
    exporter.shutdown()  # later tests of this process record nothing more


def trace_of(span: ReadableSpan) -> str:
    return format(span.context.trace_id, "032x")


def consumed(exporter: InMemorySpanExporter, ce_id: str) -> list[ReadableSpan]:
    return [
        span
        for span in exporter.get_finished_spans()
        if span.kind == SpanKind.CONSUMER and (span.attributes or {}).get("ce_id") == ce_id
    ]


@pytest.fixture
async def stack(
    spans: InMemorySpanExporter, broker: Any, service_databases: dict[str, str]
) -> AsyncIterator[dict[str, Any]]:
    common: dict[str, Any] = {
        "kafka_bootstrap_servers": broker.bootstrap,
        "internal_token_secret": DEV_INTERNAL_SECRET,
        "outbox_poll_seconds": 0.2,
        "consumer_backoff_seconds": 0.05,
        "consumer_graceful_seconds": 2,
    }
    registry_service = registry.build(RegistrySettings(database_url=service_databases["registry"], **common))
    events_service = events.build(EventsSettings(database_url=service_databases["events"], **common))
    world = await build_registry_world(registry_service.db)
    async with contextlib.AsyncExitStack() as running:
        for service in (registry_service, events_service):
            await running.enter_async_context(service.running())
        registry_base = await running.enter_async_context(
            served(registry_service.asgi(registry.schema), lifespan="off")
        )
        facts = Route("/facts", events_service.context["intake"].receive, methods=["POST"])
        events_base = await running.enter_async_context(
            served(events_service.asgi(events_schema, extra_routes=[facts]), lifespan="off")
        )
        await asyncio.gather(
            *(asyncio.wait_for(s.connected.wait(), 60) for s in (registry_service, events_service))
        )
        gateway = create_gateway(
            GatewaySettings(
                registry_url=f"{registry_base}/graphql",
                events_url=f"{events_base}/graphql",
                analytics_url="http://127.0.0.1:9/graphql",
            )
        )
        gateway_base = await running.enter_async_context(served(gateway))
        yield {"gateway": gateway_base, "broker": broker, "events_db": events_service.db, **world}


async def test_a_mutation_is_one_trace_from_the_gateway_to_another_services_consumer(
    spans: InMemorySpanExporter, stack: dict[str, Any]
) -> None:
    token = issue_token(
        GatewaySettings(),
        subject="coordinator",
        roles=["municipal_coordinator"],
        region_code=REGION,
        municipality_id=str(stack["municipality"]),
    )
    rename = {"id": str(stack["network"]), "name": "Сеть школ под наблюдением"}
    async with httpx.AsyncClient(base_url=stack["gateway"], timeout=30) as client:
        reply = await client.post(
            "/graphql",
            json={"query": UPDATE_NETWORK, "variables": {"i": rename}, "operationName": None},
            headers={"authorization": f"Bearer {token}"},
        )
    assert reply.json()["data"]["updateNetwork"]["name"] == "Сеть школ под наблюдением", reply.text

    gateway_span = next(
        span
        for span in spans.get_finished_spans()
        if span.kind == SpanKind.SERVER and span.instrumentation_scope.name == "setka.gateway"
    )
    trace_id = trace_of(gateway_span)

    def of_trace() -> list[ReadableSpan]:
        return [span for span in spans.get_finished_spans() if trace_of(span) == trace_id]

    async def reached_the_events_service() -> bool:
        return any(
            span.kind == SpanKind.CONSUMER
            and (span.attributes or {}).get("messaging.consumer.group.name") == "setka.events"
            and (span.attributes or {}).get("ce_type") == "setka.registry.network.updated.v1"
            for span in of_trace()
        )

    await eventually(reached_the_events_service, timeout=60)
    kinds = {(span.instrumentation_scope.name, span.kind) for span in of_trace()}
    assert ("setka.gateway", SpanKind.CLIENT) in kinds, "the call to the registry's subgraph"
    assert ("setka.registry", SpanKind.SERVER) in kinds, "the registry's subgraph request"
    assert ("setka.outbox", SpanKind.PRODUCER) in kinds, "the relay publishing the event"
    consumer = next(
        span
        for span in of_trace()
        if span.kind == SpanKind.CONSUMER
        and (span.attributes or {}).get("messaging.consumer.group.name") == "setka.events"
    )
    attributes = consumer.attributes or {}
    assert attributes["messaging.destination.name"] == topics.REGISTRY
    assert attributes["ce_id"] and attributes["messaging.kafka.offset"] >= 0
    assert attributes["setka.outcome"] == "processed"


async def test_a_regional_fact_is_traced_into_the_consumer_by_its_ce_id(
    spans: InMemorySpanExporter, stack: dict[str, Any]
) -> None:
    def fact(ce_id: str, traceparent: str | None) -> tuple[bytes, bytes, dict[str, str]]:
        event = CloudEvent(
            id=ce_id,
            type="setka.regional.assessment.published.v1",
            source="/regional/rcoi-39",
            data={"source_system": "rcoi-39", "external_id": ce_id},
            traceparent=traceparent,
        )
        return b"rcoi-39", event.body(), event.headers()

    traced, untraced = f"traced-{uuid.uuid4()}", f"untraced-{uuid.uuid4()}"
    await produce(
        stack["broker"].bootstrap,
        topics.REGIONAL_ASSESSMENTS,
        [fact(traced, SENDER_TRACEPARENT), fact(untraced, None)],
    )

    async def both_consumed() -> bool:
        return bool(consumed(spans, traced) and consumed(spans, untraced))

    await eventually(both_consumed, timeout=60)

    (continued,) = consumed(spans, traced)
    assert trace_of(continued) == SENDER_TRACE, "the sender's trace goes on in the consumer"
    assert continued.parent is not None and format(continued.parent.span_id, "016x") == "00f067aa0ba902b7"
    (started,) = consumed(spans, untraced)
    assert started.parent is None, "a fact without a traceparent starts its trace at the consumer"
    assert (started.attributes or {})["cloudevents.event_id"] == untraced
    assert (started.attributes or {})["messaging.destination.name"] == topics.REGIONAL_ASSESSMENTS


async def test_a_fact_sent_over_http_is_traced_from_the_gateway_into_its_consumer(
    spans: InMemorySpanExporter, stack: dict[str, Any]
) -> None:
    ce_source = "/regional/rcoi-39-http"
    async with stack["events_db"].session() as session, session.begin():
        source = await sources.register(
            session,
            ce_source=ce_source,
            region_code=REGION,
            title="РЦОИ (по HTTP)",
            grants={
                sources.GrantKind.source_system: ["rcoi-39"],
                sources.GrantKind.topic: [topics.REGIONAL_ASSESSMENTS],
                sources.GrantKind.region: [REGION],
            },
        )
        token, _ = await sources.issue_token(session, source, by="test")

    def fact(ce_id: str, traceparent: str | None) -> dict[str, Any]:
        data = AssessmentResultPublished(
            source_system="rcoi-39",
            external_id=ce_id,
            organization={"id": str(uuid.uuid4())},
            procedure="vpr",
            subject="математика",
            grade=5,
            year=2025,
            participants=20,
            mean_score=3.8,
            mark_shares={"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15},
            recorded_at="2026-01-01T00:00:00+00:00",
        )
        event = {"specversion": "1.0", "id": ce_id, "source": ce_source, "type": data.event_type}
        return (
            event
            | {"data": data.model_dump(mode="json")}
            | ({"traceparent": traceparent} if traceparent else {})
        )

    bare, own = f"http-bare-{uuid.uuid4()}", f"http-own-{uuid.uuid4()}"
    async with httpx.AsyncClient(base_url=stack["gateway"], timeout=30) as client:
        reply = await client.post(
            "/facts",
            content=json.dumps([fact(bare, None), fact(own, SENDER_TRACEPARENT)]),
            headers={
                "authorization": f"Bearer {token}",
                "content-type": "application/cloudevents-batch+json",
            },
        )
    assert reply.status_code == 202, reply.text

    async def both_consumed() -> bool:
        return bool(consumed(spans, bare) and consumed(spans, own))

    await eventually(both_consumed, timeout=60)
    finished = spans.get_finished_spans()
    (gateway_span,) = [
        span
        for span in finished
        if span.kind == SpanKind.SERVER
        and span.instrumentation_scope.name == "setka.gateway"
        and (span.attributes or {}).get("url.path") == "/facts"
    ]
    (entry,) = [
        span
        for span in finished
        if span.kind == SpanKind.SERVER
        and span.instrumentation_scope.name == "setka.events"
        and span.name == "POST /facts"
    ]
    assert (entry.attributes or {})["http.response.status_code"] == 202
    assert trace_of(entry) == trace_of(gateway_span), "the gateway's trace goes on into the events service"
    assert entry.parent is not None and entry.parent.span_id == gateway_span.context.span_id
    first = consumed(spans, bare)[0]  # its first try (a school Setka does not know makes it wait)
    assert trace_of(first) == trace_of(entry), "the fact was kept, then consumed in the entry's trace"
    assert first.parent is not None and first.parent.span_id == entry.context.span_id
    assert (first.attributes or {})["messaging.destination.name"] == topics.REGIONAL_ASSESSMENTS
    assert (first.attributes or {})["cloudevents.event_id"] == bare
    # a fact that names its sender's trace goes on in that trace, as from Kafka
    assert trace_of(consumed(spans, own)[0]) == SENDER_TRACE
