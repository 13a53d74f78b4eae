"""CloudEvents 1.0 in Kafka binary mode: attributes travel as ``ce_*`` headers, data as JSON.

This is the whole envelope contract, usable by a regional system without the rest of Setka.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_specversion")

MAX_BODY_BYTES = 1_048_576
"""The largest data accepted (1 MiB): one fact is a few hundred bytes."""
MAX_DEPTH = 32
"""The deepest nesting of objects and arrays accepted in the data."""
MAX_HEADERS = 64
MAX_HEADER_BYTES = 4096
"""Most headers of one message, and the longest value of one."""
_ID = re.compile(r"[^\s\x00-\x1f\x7f]{1,200}")
_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")


class EnvelopeError(ValueError):
    """The message is not a CloudEvent we can read; the reason says what to fix."""


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """One event as it crosses a service boundary."""

    type: str
    source: str
    data: dict[str, Any]
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    time: datetime = field(default_factory=lambda: datetime.now(UTC))
    subject: str | None = None

    def headers(self) -> dict[str, str]:
        """Kafka headers of the binary content mode."""
        headers = dict(
            [
                ("ce_specversion", SPEC_VERSION),
                ("ce_id", self.id),
                ("ce_type", self.type),
                ("ce_source", self.source),
                ("ce_time", self.time.isoformat()),
                ("content-type", CONTENT_TYPE),
            ]
        )
        if self.subject:
            headers["ce_subject"] = self.subject
        return headers

    def body(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def decode_headers(raw: Iterable[tuple[str, bytes | str | None]] | Mapping[str, Any]) -> dict[str, str]:
    """Kafka headers as text; header names are case-insensitive in our reading."""
    items = raw.items() if isinstance(raw, Mapping) else raw
    decoded: dict[str, str] = {}
    for name, value in items:
        if value is None:
            continue
        decoded[name.lower()] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return decoded


def _constant(name: str) -> Any:
    raise EnvelopeError(
        f"data is not strict JSON: {name} is not a JSON number (send null or leave the field out)"
    )


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for name, value in pairs:
        if name in data:
            raise EnvelopeError(f"data has the key {name[:60]!r} twice")
        data[name] = value
    return data


def _depth(data: Any) -> int:
    """The nesting depth of decoded JSON, without recursion."""
    deepest, pending = 0, [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            deepest = max(deepest, depth)
            if deepest > MAX_DEPTH:
                return deepest
            children = value.values() if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
    return deepest


def _headers(headers: Mapping[str, str]) -> None:
    if len(headers) > MAX_HEADERS:
        raise EnvelopeError(f"{len(headers)} headers; at most {MAX_HEADERS}")
    for name, value in headers.items():
        if len(value.encode("utf-8", "replace")) > MAX_HEADER_BYTES:
            raise EnvelopeError(f"header {name[:50]!r} is longer than {MAX_HEADER_BYTES} bytes")
    if not _ID.fullmatch(headers["ce_id"]):
        raise EnvelopeError("ce_id must be 1 to 200 characters without spaces or control characters")
    if not _ID.fullmatch(headers["ce_source"]):
        raise EnvelopeError(
            "ce_source must be a URI reference of 1 to 200 characters without spaces, "
            "e.g. /regional/kripkro-lms"
        )
    if not _TYPE.fullmatch(headers["ce_type"]):
        raise EnvelopeError("ce_type must be 1 to 200 letters, digits, dots, dashes or underscores")


def _time(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise EnvelopeError(f"ce_time is not an RFC 3339 timestamp: {text[:60]!r}") from exc
    if "T" not in text.upper() or moment.tzinfo is None:
        raise EnvelopeError(f"ce_time must be an RFC 3339 timestamp with a UTC offset: {text[:60]!r}")
    return moment


def parse(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """Read a binary-mode CloudEvent, or raise :class:`EnvelopeError` with the reason.

    Whatever the input, the only exception is :class:`EnvelopeError`."""
    try:
        return _parse(headers, body)
    except EnvelopeError:
        raise
    except RecursionError:
        raise EnvelopeError(f"data is nested too deeply; at most {MAX_DEPTH} levels") from None
    except Exception as exc:
        raise EnvelopeError(f"unreadable message: {type(exc).__name__}: {exc}"[:500]) from None


def _parse(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    missing = [name for name in REQUIRED_HEADERS if not headers.get(name)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents headers: {', '.join(missing)}")
    if headers["ce_specversion"] != SPEC_VERSION:
        raise EnvelopeError(
            f"ce_specversion must be {SPEC_VERSION!r}, got {headers['ce_specversion'][:20]!r}"
        )
    content_type = headers.get("content-type", CONTENT_TYPE).split(";")[0].strip()
    if content_type != CONTENT_TYPE:
        raise EnvelopeError(f"content-type must be {CONTENT_TYPE!r}, got {content_type[:60]!r}")
    _headers(headers)
    if len(body) > MAX_BODY_BYTES:
        raise EnvelopeError(f"data is {len(body)} bytes; at most {MAX_BODY_BYTES} bytes")
    try:
        data = json.loads(body, parse_constant=_constant, object_pairs_hook=_object)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"data is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("data must be a JSON object")
    if _depth(data) > MAX_DEPTH:
        raise EnvelopeError(f"data is nested too deeply; at most {MAX_DEPTH} levels")
    return CloudEvent(
        id=headers["ce_id"],
        type=headers["ce_type"],
        source=headers["ce_source"],
        time=_time(headers.get("ce_time")),
        subject=headers.get("ce_subject"),
        data=data,
    )
