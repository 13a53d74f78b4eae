"""``setka contract check FILE``: an integrator's messages checked offline, with the consumer's
own reading function and reasons (:func:`setka_runtime.consumer.read_record`).

A file holds CloudEvents in the JSON format (what ``POST /facts`` takes in structured mode):
a JSON array of events, or one event per line (JSON lines). Each event is turned into the Kafka
binary mode (``ce_*`` headers, the data as the body) exactly as the HTTP intake does, then read
as the consumer of its topic reads it. Rules that need Setka's data (is the school registered,
does the educator work there, may this source write about that region) are checked only when
the fact arrives; everything else is checked here, with the same reason text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from setka_contracts import EnvelopeError, binary_of, read_structured
from setka_contracts.regional import INBOUND_TYPES
from setka_runtime.consumer import Record, read_record


@dataclass(frozen=True)
class Checked:
    """One message of the file: where it is (line, or position in the array), its id, and the
    reason it would be dead-lettered (None: it would be accepted)."""

    where: str
    event_id: str | None
    event_type: str | None
    reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {"where": self.where, "id": self.event_id, "type": self.event_type, "reason": self.reason}


MODELS = {model.event_type: model for model in INBOUND_TYPES}


def check_event(event: Any) -> str | None:
    """The consumer's reason for one event in the JSON format, or None if it would be accepted."""
    try:
        headers, body = binary_of(event)
    except EnvelopeError as exc:
        return f"invalid envelope: {exc}"
    topic = getattr(MODELS.get(str(event.get("type"))), "topic", "regional.*")
    read = read_record(Record(value=body, headers=headers), MODELS, topic=topic)
    return read if isinstance(read, str) else None


def _entries(text: bytes) -> list[tuple[str, Any]]:
    """The events of the file with where each is; an unreadable entry is kept as its reason."""
    stripped = text.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"["):
        try:
            return [(f"[{index}]", event) for index, event in enumerate(read_structured(text, batch=True))]
        except EnvelopeError as exc:
            return [("file", EnvelopeError(f"not a JSON array of events: {exc}"))]
    entries: list[tuple[str, Any]] = []
    for number, line in enumerate(text.split(b"\n"), start=1):
        if not line.strip():
            continue
        try:
            entries.append((f"line {number}", read_structured(line, batch=False)[0]))
        except EnvelopeError as exc:
            entries.append((f"line {number}", exc))
    return entries


def check_file(path: Path) -> list[Checked]:
    results: list[Checked] = []
    for where, event in _entries(path.read_bytes()):
        if isinstance(event, EnvelopeError):
            results.append(Checked(where, None, None, f"invalid envelope: {event}"))
            continue
        event_id = event.get("id") if isinstance(event, dict) else None
        event_type = event.get("type") if isinstance(event, dict) else None
        results.append(
            Checked(
                where,
                event_id if isinstance(event_id, str) else None,
                event_type if isinstance(event_type, str) else None,
                check_event(event),
            )
        )
    return results
