"""The processes' logs: JSON lines outside development, plain greppable text in it.

Each JSON line has ``time``, ``level``, ``logger``, ``message`` and ``service``, and ``trace_id`` /
``span_id`` while the request or message being handled carries a W3C ``traceparent`` (the gateway
sets it per request, a consumer per message: :func:`traced`). ``LOG_FORMAT`` chooses (``json`` or
``text``); without it, ``text`` when ``SETKA_ENV=development`` (``make run``), else ``json``.

No personal data: whatever a message or a traceback quotes, e-mail addresses, СНИЛС and the
parameters of a failed SQL statement are masked before the line is written (:func:`redact`).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

FORMATS = ("json", "text")

TRACEPARENT: ContextVar[str | None] = ContextVar("setka_traceparent", default=None)
"""The W3C ``traceparent`` of the request or message this task handles, if it has one."""

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_SNILS = re.compile(r"\b\d{3}-?\d{3}-?\d{3}[ -]?\d{2}\b")
_SQL_PARAMETERS = re.compile(r"\[parameters: .*?\](?=\n|$)", re.DOTALL)
_KEY_VALUES = re.compile(r"(Key \([^)]*\))=\(.*?\)(?= already exists| is not present|\.|\n|$)")


def default_format() -> str:
    """``text`` in development (``SETKA_ENV=development``), ``json`` everywhere else."""
    return "text" if os.environ.get("SETKA_ENV", "").strip().lower() == "development" else "json"


def trace_ids(traceparent: str | None) -> tuple[str, str] | None:
    """(trace id, span id) of a valid W3C ``traceparent``; None for anything else."""
    if not traceparent:
        return None
    found = _TRACEPARENT.match(traceparent.strip().lower())
    if found is None or set(found.group(1)) == {"0"} or set(found.group(2)) == {"0"}:
        return None
    return found.group(1), found.group(2)


@contextmanager
def traced(traceparent: str | None) -> Iterator[None]:
    """Log lines written inside carry the trace and span ids of ``traceparent`` (if valid)."""
    token = TRACEPARENT.set(traceparent if trace_ids(traceparent) else None)
    try:
        yield
    finally:
        TRACEPARENT.reset(token)


def redact(text: str) -> str:
    """``text`` without e-mail addresses, СНИЛС and the values a database error quotes."""
    text = _SQL_PARAMETERS.sub("[parameters: hidden]", text)
    text = _KEY_VALUES.sub(r"\1=(hidden)", text)
    text = _EMAIL.sub("<e-mail>", text)
    return _SNILS.sub("<СНИЛС>", text)


class JsonFormatter(logging.Formatter):
    """One JSON object a line (see the module's description)."""

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
            "service": self.service,
        }
        ids = trace_ids(TRACEPARENT.get())
        if ids is not None:
            line["trace_id"], line["span_id"] = ids
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = redact(record.exc_text)
        return json.dumps(line, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """Time, level, logger, message (and the trace id, when there is one); redacted as well."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        text = redact(super().format(record))
        ids = trace_ids(TRACEPARENT.get())
        return f"{text} [trace {ids[0]}]" if ids else text


def configure(level: str, *, fmt: str | None = None, service: str = "") -> None:
    """Log at ``level`` to standard error, in ``fmt`` (``json``/``text``; default: :func:`default_format`)."""
    chosen = (fmt or default_format()).strip().lower()
    if chosen not in FORMATS:
        raise ValueError(f"LOG_FORMAT must be one of {', '.join(FORMATS)}, not {fmt!r}")
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service) if chosen == "json" else TextFormatter())
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    # FastStream and aiokafka log every message and every rebalance at INFO.
    for noisy in ("faststream", "aiokafka", "aiokafka.consumer.group_coordinator"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLogger().level))
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)
