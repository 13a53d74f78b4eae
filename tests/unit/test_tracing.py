"""Tracing is off unless the ``OTEL_*`` variables ask (no exporter, a no-op tracer that still passes
a caller's trace on), on with the OTLP exporter when they do; the trace context travels in the
CloudEvents distributed-tracing extension (``ce_traceparent``)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest
from setka_contracts import CloudEvent, parse
from setka_runtime import tracing

pytestmark = pytest.mark.unit

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

PROBE = textwrap.dedent(
    """
    import json, sys
    from opentelemetry import trace
    from setka_runtime import tracing

    on = tracing.setup("registry")
    provider = trace.get_tracer_provider()
    answer = {
        "on": on,
        "sdk_loaded": "opentelemetry.sdk.trace" in sys.modules,
        "exporter_loaded": "opentelemetry.exporter.otlp.proto.http.trace_exporter" in sys.modules,
        "provider": type(provider).__name__,
    }
    with tracing.span("work", parent=tracing.extract({"traceparent": sys.argv[1]})):
        answer["passed_on"] = tracing.current_traceparent()
        answer["ids"] = tracing.current_ids()
    if on:
        answer["service"] = provider.resource.attributes["service.name"]
        answer["sampler"] = type(provider.sampler).__name__
        processor = provider._active_span_processor._span_processors[0]
        answer["exporter"] = type(processor.span_exporter).__name__
    print(json.dumps(answer))
    """
)


def probe(**variables: str) -> dict:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    environment.update(variables)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, TRACEPARENT],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_without_otel_variables_no_exporter_is_created_and_a_callers_trace_passes_through() -> None:
    answer = probe()
    assert answer["on"] is False
    assert not answer["sdk_loaded"] and not answer["exporter_loaded"]
    assert answer["provider"] == "ProxyTracerProvider"
    assert answer["passed_on"] == TRACEPARENT, "a subgraph or consumer passes the trace on, unrecorded"
    assert answer["ids"] == ["0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"]


def test_an_otlp_endpoint_turns_tracing_on_with_the_standard_variables() -> None:
    answer = probe(
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:4318",
        OTEL_SERVICE_NAME="setka-registry-39",
        OTEL_TRACES_SAMPLER="always_off",  # nothing to send to an endpoint nobody listens on
    )
    assert answer["on"] is True
    assert answer["exporter"] == "OTLPSpanExporter"
    assert answer["service"] == "setka-registry-39"
    assert answer["sampler"] == "StaticSampler"
    _, trace_id, span_id, flags = answer["passed_on"].split("-")
    assert trace_id == "0af7651916cd43dd8448eb211c80319c" and span_id != "b7ad6b7169203331"
    assert flags == "00", "the sampler of OTEL_TRACES_SAMPLER decides"


@pytest.mark.parametrize(
    "variables",
    [
        {},
        {"OTEL_SERVICE_NAME": "setka-events"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_SDK_DISABLED": "true"},
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER": "none"},
    ],
)
def test_tracing_stays_off_unless_an_endpoint_is_configured(variables: dict[str, str]) -> None:
    assert tracing.enabled_by_environment(variables) is False


def test_the_trace_context_travels_in_the_distributed_tracing_extension() -> None:
    event = CloudEvent(type="setka.test.v1", source="/test", data={}, traceparent=TRACEPARENT)
    headers = event.headers()
    assert headers["ce_traceparent"] == TRACEPARENT
    assert parse(headers, event.body()).traceparent == TRACEPARENT
    assert "ce_traceparent" not in CloudEvent(type="setka.test.v1", source="/test", data={}).headers()
    # a sender that writes the bare W3C header is understood as well
    bare = {**CloudEvent(type="setka.test.v1", source="/test", data={}).headers(), "traceparent": TRACEPARENT}
    assert parse(bare, b"{}").traceparent == TRACEPARENT
    for carrier in ({"ce_traceparent": TRACEPARENT}, {"traceparent": TRACEPARENT}):
        with tracing.span("read", parent=tracing.extract(carrier)):
            assert tracing.current_ids() is not None
            assert tracing.current_ids()[0] == "0af7651916cd43dd8448eb211c80319c"  # type: ignore[index]
    assert tracing.context_of("not a traceparent") == tracing.context_of(None)


ATTRIBUTES_PROBE = textwrap.dedent(
    """
    import json, os
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from setka_runtime import tracing

    kept = InMemorySpanExporter()
    tracing.setup("events", exporter=kept)
    made = tracing.start(
        "t process",
        attributes={"ce_id": "e-1", "offset": 7, "ratio": 0.5, "ok": True, "none": None, "empty": "",
                    "subjects": ("математика", "физика"), "long": "x" * 50},
    )
    tracing.finish(made, error="не вышло", attributes={"setka.outcome": "dead-lettered", "setka.reason": ""})
    with tracing.span("work", attributes={"messaging.batch.message_count": 3, "skipped": None}):
        tracing.annotate({"later": "yes"})
    print(json.dumps([dict(span.attributes) for span in kept.get_finished_spans()], ensure_ascii=False))
    """
)


@pytest.mark.parametrize("limit", [None, "10"])
def test_a_spans_attributes_are_recorded_as_given_without_the_empty_ones(limit: str | None) -> None:
    environment = {name: value for name, value in os.environ.items() if not name.startswith("OTEL_")}
    if limit:
        environment["OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT"] = limit
    done = subprocess.run(
        [sys.executable, "-c", ATTRIBUTES_PROBE], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    started, work = json.loads(done.stdout.strip().splitlines()[-1])
    cut = int(limit) if limit else None  # a configured limit still cuts the values
    assert started == {
        "ce_id": "e-1",
        "offset": 7,
        "ratio": 0.5,
        "ok": True,
        "subjects": ["математика", "физика"],
        "long": "x" * 50 if cut is None else "x" * cut,
        "setka.outcome": "dead-lettered"[:cut],
    }
    assert work == {"messaging.batch.message_count": 3, "later": "yes"}
