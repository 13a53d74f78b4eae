"""OpenTelemetry traces at Setka's own seams, off unless the standard ``OTEL_*`` variables ask.

A trace follows a request from the gateway into the subgraphs (the W3C ``traceparent`` HTTP
header), into the outbox (each row keeps the ``traceparent`` current when it was recorded), across
Kafka (the CloudEvents distributed-tracing extension: the ``ce_traceparent`` header of the binary
mode) and into every consumer, whose span is the parent of the events its handler records. A
message that comes without a ``traceparent`` (a regional fact) starts a trace at its consumer span,
which carries its ``ce_id``.

Configuration (read once, by :func:`setup`): ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` turns tracing on, with the OTLP/HTTP exporter;
``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``, ``OTEL_TRACES_SAMPLER`` and
``OTEL_TRACES_SAMPLER_ARG``, ``OTEL_EXPORTER_OTLP_HEADERS`` and the ``OTEL_BSP_*`` variables are
read by the SDK as they are everywhere. ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``
keep it off. Off, the tracer is OpenTelemetry's no-op one: no exporter, no recording, and an
incoming ``traceparent`` is still passed on unchanged.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import (
    Link,
    NonRecordingSpan,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    TraceFlags,
    Tracer,
    TraceState,
)
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "Span",
    "SpanKind",
    "Traced",
    "annotate",
    "context_of",
    "current",
    "current_ids",
    "current_traceparent",
    "enabled",
    "enabled_by_environment",
    "extract",
    "finish",
    "flush",
    "inject",
    "mark_error",
    "setup",
    "shutdown",
    "span",
    "start",
    "suspend",
    "traceparent_of",
    "tracer",
]

log = logging.getLogger(__name__)

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"
CE_TRACEPARENT = "ce_traceparent"
CE_TRACESTATE = "ce_tracestate"
"""The distributed-tracing extension's attributes as Kafka headers of the binary content mode."""

_PROPAGATOR = TraceContextTextMapPropagator()
_VERSION_00 = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
"""A ``traceparent`` of the W3C version 00 (what every sender writes today); others go through
the propagator, which knows the rules for later versions."""
_INSTRUMENTATION = "setka"
_installed: Any = None
"""The SDK's TracerProvider once :func:`setup` installed one."""
_globally_set = False
_link_limit = 128
"""How many links a span keeps (the provider's limit, from ``OTEL_SPAN_LINK_COUNT_LIMIT``)."""
"""Whether OpenTelemetry's global provider was set (once a process)."""
_NO_OP = trace.NoOpTracer()
"""Setka's tracer while tracing is off: makes no span, passes a caller's trace context on."""


def enabled_by_environment(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the ``OTEL_*`` variables ask for traces to be exported."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() in ("none", ""):
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def setup(service_name: str, *, exporter: Any = None) -> bool:
    """Install a TracerProvider exporting over OTLP/HTTP when the environment asks (or to
    ``exporter``, a span exporter a test gives); return whether tracing is on. Idempotent: the
    first call of a process decides (OpenTelemetry has one global provider)."""
    global _installed, _globally_set, _link_limit
    if _installed is not None:
        return True
    if exporter is None and not enabled_by_environment():
        return False
    from opentelemetry.sdk.resources import OTELResourceDetector, Resource
    from opentelemetry.sdk.trace import SpanLimits, TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    resource = Resource.create({"service.name": f"setka-{service_name}"}).merge(
        OTELResourceDetector().detect()  # OTEL_RESOURCE_ATTRIBUTES, OTEL_SERVICE_NAME win
    )
    if os.environ.get("OTEL_SERVICE_NAME"):
        resource = resource.merge(Resource({"service.name": os.environ["OTEL_SERVICE_NAME"]}))
    provider = TracerProvider(resource=resource)  # reads OTEL_TRACES_SAMPLER(_ARG)
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    if not _globally_set:
        # for anything else in the process that asks OpenTelemetry; Setka's own tracers come from
        # ``_installed`` (the global can be set only once, a benchmark switches tracing on again)
        trace.set_tracer_provider(provider)
        _globally_set = True
    _installed = provider
    limit = SpanLimits().max_links  # as the provider reads OTEL_SPAN_LINK_COUNT_LIMIT
    _link_limit = limit if limit is not None else 1 << 62
    _tracers.clear()
    log.info("tracing: spans exported as %s", resource.attributes.get("service.name"))
    return True


def shutdown() -> None:
    """Flush and stop the exporter, if one was installed."""
    if _installed is not None:
        _installed.shutdown()


def suspend() -> None:
    """Export what was recorded and record no more spans in this process, as before :func:`setup`
    (a benchmark measures a run with tracing on, then goes on without it). OpenTelemetry keeps its
    global provider; Setka's spans are no-ops again."""
    global _installed
    if _installed is not None:
        _installed.shutdown()
        _installed = None
        _tracers.clear()


def enabled() -> bool:
    """Whether spans are recorded in this process (:func:`setup` installed a provider)."""
    return _installed is not None


_tracers: dict[str, Tracer] = {}
"""The tracers of the components, made once per provider (getting one is dear: a span per message)."""


def tracer(component: str = "") -> Tracer:
    """The tracer of a Setka component (e.g. ``"gateway"``, ``"events"``): a no-op one when off."""
    if _installed is None:
        return _NO_OP
    made = _tracers.get(component)
    if made is None:
        made = _installed.get_tracer(f"{_INSTRUMENTATION}.{component}" if component else _INSTRUMENTATION)
        _tracers[component] = made
    return made


# -- carrying the context ----------------------------------------------------------------------


def inject(headers: MutableMapping[str, str], context: Context | None = None) -> MutableMapping[str, str]:
    """Add the W3C ``traceparent`` (and ``tracestate``) of the current span to HTTP ``headers``."""
    _PROPAGATOR.inject(headers, context=context)
    return headers


def extract(headers: Mapping[str, str]) -> Context:
    """The context of HTTP ``headers`` (case-insensitive names) or of a Kafka message's headers
    (``ce_traceparent``, else a bare ``traceparent``); an empty context when they carry none.
    Header names are read lowercase, as ASGI, Starlette and :func:`decode_headers` give them."""
    parent = headers.get(CE_TRACEPARENT) or headers.get(TRACEPARENT)
    if not parent:
        return Context()
    return context_of(parent, headers.get(CE_TRACESTATE) or headers.get(TRACESTATE))


def context_of(traceparent: str | None, tracestate: str | None = None) -> Context:
    """The context of a stored ``traceparent``; empty for None or one that is not valid."""
    if not traceparent:
        return Context()
    plain = _VERSION_00.fullmatch(traceparent)
    if plain is not None:  # the common case, read without the propagator's carrier and checks
        trace_id, span_id = int(plain[1], 16), int(plain[2], 16)
        if not trace_id or not span_id:
            return Context()
        state = None
        if tracestate:
            state = TraceState.from_header([tracestate])
        remote = SpanContext(
            trace_id, span_id, is_remote=True, trace_flags=TraceFlags(int(plain[3], 16)), trace_state=state
        )
        return trace.set_span_in_context(NonRecordingSpan(remote), Context())
    carrier = {TRACEPARENT: traceparent}
    if tracestate:
        carrier[TRACESTATE] = tracestate
    return _PROPAGATOR.extract(carrier, context=Context())


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span, None when there is none (to store or send)."""
    return _traceparent(trace.get_current_span())


def traceparent_of(active: Span | None) -> str | None:
    """The W3C ``traceparent`` of ``active`` (a message's consumer span), else of the current span:
    what an event recorded for that message keeps, so its trace goes on even in a batch of many."""
    return _traceparent(trace.get_current_span() if active is None else active)


def _traceparent(active: Span) -> str | None:
    """What the W3C propagator writes as ``traceparent`` for ``active``, without a carrier and a
    context to make (a consumer asks once per event it records)."""
    span_context = active.get_span_context()
    if not span_context.is_valid:
        return None
    return f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}-{span_context.trace_flags:02x}"


def current_ids() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` of the current span as lowercase hex, None when there is none: what
    a log line or a metric exemplar names."""
    span_context = trace.get_current_span().get_span_context()
    if not span_context.is_valid:
        return None
    return format(span_context.trace_id, "032x"), format(span_context.span_id, "016x")


# -- spans -------------------------------------------------------------------------------------


@contextmanager
def span(
    name: str,
    *,
    component: str = "",
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
    attributes: Mapping[str, Any] | None = None,
    links: Sequence[Span] = (),
) -> Iterator[Span]:
    """A span made current for the block (child of ``parent``'s span when given, else of the
    current one), linked to the spans of ``links``; an exception leaving the block is recorded
    on it and marks it an error. Off, nothing is made but the caller's context, passed on."""
    if _installed is None:
        passing = trace.get_current_span(parent)
        with current(passing if parent is not None else None):
            yield passing
        return
    with tracer(component).start_as_current_span(
        name,
        context=parent,
        kind=kind,
        links=_links(links),
    ) as made:
        if attributes:
            _put(made, attributes)
        yield made


def _links(spans: Sequence[Span]) -> list[Link]:
    """Links to the valid ones of ``spans``, as many as a span keeps (``OTEL_SPAN_LINK_COUNT_LIMIT``,
    128 by default): a batch's span would otherwise make hundreds the SDK then drops."""
    made: list[Link] = []
    for other in spans:
        if len(made) >= _link_limit:
            break
        context = other.get_span_context()
        if context.is_valid:
            made.append(Link(context))
    return made


def start(
    name: str,
    *,
    component: str = "",
    kind: SpanKind = SpanKind.INTERNAL,
    parent: Context | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> Span:
    """A span started but not made current: end it with :func:`finish`. Off, the caller's span
    (``parent``'s, else the current one), unrecorded, so that the context is passed on."""
    if _installed is None:
        return trace.get_current_span(parent)
    made = tracer(component).start_span(name, context=parent, kind=kind)
    if attributes:
        _put(made, attributes)
    return made


@contextmanager
def current(active: Span | None) -> Iterator[None]:
    """Make ``active`` the current span for the block (nothing changes for None)."""
    if active is None:
        yield
        return
    token = otel_context.attach(trace.set_span_in_context(active))
    try:
        yield
    finally:
        otel_context.detach(token)


def finish(active: Span | None, *, error: str = "", attributes: Mapping[str, Any] | None = None) -> None:
    """End a span from :func:`start`, marked an error with ``error`` as its description if given."""
    if active is None:
        return
    if attributes:
        _put(active, attributes)
    if error:
        active.set_status(Status(StatusCode.ERROR, error[:500]))
    active.end()


def _clean(attributes: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if not attributes:
        return None
    return {key: value for key, value in attributes.items() if value is not None and value != ""}


_PLAIN = frozenset((str, int, float, bool))
"""Attribute values that need none of the SDK's cleaning (its checks cost a span ~20 µs)."""


def _put(active: Span, attributes: Mapping[str, Any]) -> None:
    """Set ``attributes`` on ``active`` (those that are None or empty left out). Plain values —
    strings, numbers, booleans, all our spans carry — go straight into an SDK span's attributes
    when no limit could apply to them; anything else goes through the SDK's checks."""
    store = getattr(active, "_attributes", None)
    raw = getattr(store, "_dict", None)
    if (
        type(raw) is not dict
        or not active.is_recording()
        or getattr(store, "_immutable", True)
        or getattr(store, "max_value_len", None) is not None
        or (store.maxlen is not None and len(raw) + len(attributes) > store.maxlen)  # type: ignore[union-attr]
    ):
        active.set_attributes(_clean(attributes) or {})
        return
    others: dict[str, Any] = {}
    for key, value in attributes.items():
        if value is None or value == "":
            continue
        if type(value) in _PLAIN:
            raw[key] = value
        else:
            others[key] = value
    if others:
        active.set_attributes(others)


def annotate(attributes: Mapping[str, Any]) -> None:
    """Set ``attributes`` on the current span (those that are None or empty are left out)."""
    active = trace.get_current_span()
    if active.is_recording():
        active.set_attributes(_clean(attributes) or {})


class Traced:
    """An ASGI app with a server span around each HTTP request, a child of the caller's
    ``traceparent`` header when it sends one (a class: Starlette routes a function as an endpoint)."""

    def __init__(self, app: ASGIApp, *, component: str) -> None:
        self.app = app
        self.component = component

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        method, path = scope.get("method", ""), scope.get("path", "")
        with span(
            f"{method} {path}",
            component=self.component,
            kind=SpanKind.SERVER,
            parent=extract(headers),
            attributes={"http.request.method": method, "url.path": path},
        ):
            await self.app(scope, receive, send)


def flush() -> None:
    """Export the spans ended so far (a service stopping)."""
    if _installed is not None:
        _installed.force_flush()


def mark_error(exc: BaseException, active: Span | None = None) -> None:
    """Record ``exc`` on ``active`` (else the current span) and mark it an error (a caught failure)."""
    if active is None:
        active = trace.get_current_span()
    if active.is_recording():
        active.record_exception(exc)
        active.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"[:500]))
