"""The gateway's own metrics of the requests it answers, per GraphQL operation.

The ``operation`` label is bounded: a name a GraphQL operation may have ([A-Za-z0-9_], at most 64
characters), ``anonymous`` for a document whose operation has no name, ``other`` for anything
else (an unreadable request, a name that does not fit, one refused before its body was read, and
every name past the first :data:`MAX_OPERATIONS` this process has seen).
"""

from __future__ import annotations

import re
import threading

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "setka_gateway_requests_total",
    "GraphQL requests the gateway answered, by operation name and HTTP status",
    ["operation", "status"],
)
REQUEST_SECONDS = Histogram(
    "setka_gateway_request_seconds",
    "Time the gateway took to answer a GraphQL request, by operation name",
    ["operation"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

ANONYMOUS = "anonymous"
OTHER = "other"
MAX_OPERATIONS = 500
"""Distinct operation names counted on their own; later ones count as ``other``."""

_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
_FIRST_OPERATION = re.compile(r"^\s*(?:query|mutation|subscription)\s+([_A-Za-z][_0-9A-Za-z]*)", re.MULTILINE)
_seen: set[str] = set()
_lock = threading.Lock()


def operation_label(operation_name: object, document: str | None) -> str:
    """The ``operation`` label of a request: its ``operationName``, else the name of the
    document's first operation; ``anonymous`` without a name; ``other`` when it does not fit."""
    name = operation_name if isinstance(operation_name, str) and operation_name else None
    if name is None and document:
        found = _FIRST_OPERATION.search(document[:4096])
        name = found.group(1) if found else None
    if name is None:
        return ANONYMOUS
    if not _NAME.fullmatch(name):
        return OTHER
    with _lock:
        if name not in _seen:
            if len(_seen) >= MAX_OPERATIONS:
                return OTHER
            _seen.add(name)
    return name


def observe(operation: str, status: int, seconds: float | None) -> None:
    """Count one answered request (and its time, when it was measured)."""
    REQUESTS.labels(operation, str(status)).inc()
    if seconds is not None:
        REQUEST_SECONDS.labels(operation).observe(seconds)
