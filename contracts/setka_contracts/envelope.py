"""CloudEvents 1.0 in Kafka binary mode: attributes travel as ``ce_*`` headers, data as JSON.

This is the whole envelope contract, usable by a regional system without the rest of Setka.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
REQUIRED_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_specversion")


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
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":")).encode()


def decode_headers(raw: Iterable[tuple[str, bytes | str | None]] | Mapping[str, Any]) -> dict[str, str]:
    """Kafka headers as text; header names are case-insensitive in our reading."""
    items = raw.items() if isinstance(raw, Mapping) else raw
    decoded: dict[str, str] = {}
    for name, value in items:
        if value is None:
            continue
        decoded[name.lower()] = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return decoded


def parse(headers: Mapping[str, str], body: bytes) -> CloudEvent:
    """Read a binary-mode CloudEvent, or raise :class:`EnvelopeError` with the reason."""
    missing = [name for name in REQUIRED_HEADERS if not headers.get(name)]
    if missing:
        raise EnvelopeError(f"missing CloudEvents headers: {', '.join(missing)}")
    if headers["ce_specversion"] != SPEC_VERSION:
        raise EnvelopeError(f"ce_specversion must be {SPEC_VERSION!r}, got {headers['ce_specversion']!r}")
    content_type = headers.get("content-type", CONTENT_TYPE).split(";")[0].strip()
    if content_type != CONTENT_TYPE:
        raise EnvelopeError(f"content-type must be {CONTENT_TYPE!r}, got {content_type!r}")
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EnvelopeError(f"data is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("data must be a JSON object")
    time_text = headers.get("ce_time")
    try:
        time = datetime.fromisoformat(time_text) if time_text else datetime.now(UTC)
    except ValueError as exc:
        raise EnvelopeError(f"ce_time is not an RFC 3339 timestamp: {time_text!r}") from exc
    return CloudEvent(
        id=headers["ce_id"],
        type=headers["ce_type"],
        source=headers["ce_source"],
        time=time,
        subject=headers.get("ce_subject"),
        data=data,
    )
