"""CloudEvents 1.0 in Kafka binary mode: attributes travel as ``ce_*`` headers, data as JSON.

This is the whole envelope contract, usable by a regional system without the rest of Setka.
"""

from __future__ import annotations

import json
import math
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
MAX_NUMBER_DIGITS = 40
"""The most characters of one JSON number: larger ones are not numbers any system exchanges."""
MAX_HEADERS = 64
MAX_HEADER_NAME_BYTES = 256
MAX_HEADER_BYTES = 4096
"""Most headers of one message, the longest name and the longest value of one."""
MAX_ID_CHARS = 200
"""The longest ``ce_id``, ``ce_source`` and ``ce_type``."""
SEQUENCE_DIGITS = 20
"""Setka's services write ``ce_sequence`` as this many decimal digits, zero-padded, so that the
values order as strings (as the CloudEvents sequence extension asks) and as numbers alike."""
_SEQUENCE = re.compile(rf"[0-9]{{1,{SEQUENCE_DIGITS}}}")
_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
_URI_REFERENCE = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]{1,200}")
"""The characters of an RFC 3986 URI reference (anything else is percent-encoded)."""
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
"""What :func:`decode_headers` makes of bytes that are not UTF-8 (and any other lone surrogate)."""
_STRUCTURE = re.compile(rb'[\[\]{}"\\]')
"""What changes the nesting depth of JSON text, or says whether we are inside a string."""


_TOO_DEEP = (
    f"data is nested too deeply; at most {MAX_DEPTH} levels of objects and arrays, the data itself included"
)


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
    sequence: str | None = None
    """The CloudEvents ``sequence`` extension (``ce_sequence``): where the event stands among its
    producer's events. Setka's services send their outbox position (see :func:`sequence_of`), so
    of two events of one aggregate the one with the higher sequence is the newer."""
    traceparent: str | None = None
    """The CloudEvents distributed-tracing extension (``ce_traceparent``): the W3C trace context of
    the work that produced the event, so a trace continues into its consumers."""
    tracestate: str | None = None
    """The extension's ``ce_tracestate``: vendor data of the trace, passed on as it came."""

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
        if self.sequence:
            headers["ce_sequence"] = self.sequence
        if self.traceparent:
            headers["ce_traceparent"] = self.traceparent
            if self.tracestate:
                headers["ce_tracestate"] = self.tracestate
        return headers

    def body(self) -> bytes:
        return json.dumps(self.data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def as_sequence(position: int) -> str:
    """``ce_sequence`` of the producer's ``position`` (its outbox row): zero-padded digits."""
    return f"{position:0{SEQUENCE_DIGITS}d}"


def sequence_of(event: CloudEvent) -> int:
    """The producer's position of ``event`` as a number; 0 for an event sent without one (or
    with one that is not Setka's digits), which every sequenced event counts as newer than."""
    sequence = event.sequence
    return int(sequence) if sequence and _SEQUENCE.fullmatch(sequence) else 0


def decode_headers(raw: Iterable[tuple[Any, Any]] | Mapping[Any, Any]) -> dict[str, str]:
    """Kafka headers as text; header names are case-insensitive in our reading.

    Never raises on what a broker hands over: a byte that is not part of valid UTF-8 becomes a
    lone surrogate (``surrogateescape``, ``\\xff`` → ``\\udcff``), so values that differ only in
    such bytes stay different; :func:`parse` refuses them in ``ce_*`` headers and ``content-type``,
    and :func:`printable_header` turns them into valid text. A header without a value is left out."""
    items = raw if type(raw) is list else raw.items() if isinstance(raw, Mapping) else raw
    decoded: dict[str, str] = {}
    for name, value in items:
        if value is None or name is None:
            continue
        # what aiokafka hands over (a str name, a bytes value) without a call per header
        text = value.decode("utf-8", "surrogateescape") if type(value) is bytes else _text(value)
        decoded[(name if type(name) is str else _text(name)).lower()] = text
    return decoded


def printable_header(value: str) -> str:
    """A decoded header name or value as valid text: bytes that were not UTF-8 shown as ``\\xNN``.

    For whatever needs valid Unicode (a Kafka header written back, a database text column,
    JSON, a log); text without such bytes is returned unchanged."""
    return _SURROGATE.sub(_escape, value)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "surrogateescape")
    return str(value)


def _not_utf8(text: str) -> str | None:
    """Where a decoded header holds what is not valid UTF-8 (e.g. ``byte 0xff at 3``), or None."""
    if not _SURROGATE.search(text):
        return None
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError as exc:  # a surrogate that did not come from a byte
        return f"character U+{ord(text[exc.start]):04X} at {exc.start}"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"byte {raw[exc.start]:#04x} at {exc.start}"
    return None


def _utf8(headers: Mapping[str, str]) -> None:
    """Refuse a message whose ``ce_*`` header names or values, or content-type, are not UTF-8."""
    try:  # the usual case, text headers without a surrogate anywhere, at once
        joined = "".join(headers) + "".join(headers.values())
        if joined.isascii() or not _SURROGATE.search(joined):
            return
    except TypeError:  # a name or value that is not text: look at each
        pass
    for name, value in headers.items():
        if not isinstance(name, str):
            continue
        if name.startswith("ce_") and (where := _not_utf8(name)):
            raise EnvelopeError(f"header name {printable_header(name)[:60]} is not valid UTF-8 ({where})")
        if (name.startswith("ce_") or name == "content-type") and isinstance(value, str):
            if where := _not_utf8(value):
                raise EnvelopeError(f"header {name[:60]} is not valid UTF-8 ({where})")


def _constant(name: str) -> Any:
    raise EnvelopeError(
        f"data is not strict JSON: {name} is not a JSON number (send null or leave the field out)"
    )


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise EnvelopeError(f"data has a number of more than {MAX_NUMBER_DIGITS} characters: {text[:20]}…")
    value = float(text)
    if not math.isfinite(value):
        raise EnvelopeError(f"data has the number {text[:20]}, too large for a 64-bit float")
    return value


def _int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise EnvelopeError(f"data has a number of more than {MAX_NUMBER_DIGITS} characters: {text[:20]}…")
    return int(text)


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) == len(pairs):
        return data
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise EnvelopeError(f"data has the key {name[:60]!r} twice")
        seen.add(name)
    raise AssertionError("a key seen twice was not found")  # pragma: no cover


_STRICT = json.JSONDecoder(
    parse_constant=_constant, parse_float=_float, parse_int=_int, object_pairs_hook=_object
)
"""One decoder for every message (``json.loads`` with hooks would build one, and its scanner, per call)."""


def strict_json(text: str) -> Any:
    """JSON text read strictly: no NaN or Infinity, no key twice in an object, bounded numbers.

    Raises :class:`json.JSONDecodeError` for text that is not JSON and :class:`EnvelopeError`
    for JSON that breaks these rules."""
    if not isinstance(text, str):  # bytes and the rest, as json.loads reads (or refuses) them
        return json.loads(
            text, parse_constant=_constant, parse_float=_float, parse_int=_int, object_pairs_hook=_object
        )
    if text.startswith("\ufeff"):  # what json.loads says of it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _STRICT.decode(text)


def _too_deep(text: bytes) -> bool:
    """Whether JSON text nests deeper than :data:`MAX_DEPTH`, read without parsing or recursion.

    Only brackets, quotes and backslashes are looked at; stops at the first level too deep."""
    depth, in_string, escaped = 0, False, -1
    for match in _STRUCTURE.finditer(text):
        at = match.start()
        if at == escaped:
            continue
        char = text[at]
        if in_string:
            if char == 0x5C:  # backslash: the next character is escaped
                escaped = at + 1
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif char in (0x5D, 0x7D):
            depth -= 1
    return False


def _longer(text: str, limit: int) -> bool:
    """Whether ``text`` is longer than ``limit`` bytes of UTF-8 (a character is at most 4 bytes:
    a short text needs no encoding to be measured)."""
    return (type(text) is not str or len(text) * 4 > limit) and len(text.encode("utf-8", "replace")) > limit


def _headers(headers: Mapping[str, str]) -> None:
    if len(headers) > MAX_HEADERS:
        raise EnvelopeError(f"{len(headers)} headers; at most {MAX_HEADERS}")
    for name, value in headers.items():
        if _longer(name, MAX_HEADER_NAME_BYTES):
            raise EnvelopeError(f"a header name is longer than {MAX_HEADER_NAME_BYTES} bytes: {name[:50]!r}…")
        if _longer(value, MAX_HEADER_BYTES):
            raise EnvelopeError(f"header {name[:50]!r} is longer than {MAX_HEADER_BYTES} bytes")
    ce_id = headers["ce_id"]
    if len(ce_id) > MAX_ID_CHARS or not ce_id.isprintable() or ce_id.split() != [ce_id]:
        raise EnvelopeError(
            f"ce_id must be 1 to {MAX_ID_CHARS} printable characters without spaces or control characters"
        )
    if not _URI_REFERENCE.fullmatch(headers["ce_source"]):
        raise EnvelopeError(
            f"ce_source must be a URI reference of 1 to {MAX_ID_CHARS} characters without spaces "
            "(other characters percent-encoded), e.g. /regional/kripkro-lms"
        )
    if not _TYPE.fullmatch(headers["ce_type"]):
        raise EnvelopeError(
            f"ce_type must be 1 to {MAX_ID_CHARS} letters, digits, dots, dashes or underscores"
        )
    if _CONTROL.search(headers.get("ce_subject", "")):
        raise EnvelopeError("ce_subject must not contain control characters")
    sequence = headers.get("ce_sequence")
    if sequence is not None and (len(sequence) > MAX_ID_CHARS or not _URI_REFERENCE.fullmatch(sequence)):
        raise EnvelopeError(
            f"ce_sequence must be 1 to {MAX_ID_CHARS} characters without spaces, e.g. 00000000000000000042"
        )


def _time(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    example = "e.g. 2026-03-12T18:05:00+03:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise EnvelopeError(f"ce_time is not an RFC 3339 timestamp ({example}): {text[:60]!r}") from exc
    if moment.tzinfo is None or not _RFC3339.fullmatch(text):
        raise EnvelopeError(
            f"ce_time must be an RFC 3339 timestamp with a UTC offset ({example}): {text[:60]!r}"
        )
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise EnvelopeError(f"ce_time is out of range: {text[:60]!r}") from None
    return moment


def parse(headers: Mapping[str, str], body: bytes | None) -> CloudEvent:
    """Read a binary-mode CloudEvent, or raise :class:`EnvelopeError` with the reason.

    Whatever the input, the only exception is :class:`EnvelopeError`."""
    try:
        return _parse(headers, body)
    except EnvelopeError:
        raise
    except RecursionError:
        raise EnvelopeError(_TOO_DEEP) from None
    except Exception as exc:
        raise EnvelopeError(f"unreadable message: {type(exc).__name__}: {exc}"[:500]) from None


def _parse(headers: Mapping[str, str], body: bytes | None) -> CloudEvent:
    _utf8(headers)
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
    if body is None:
        raise EnvelopeError("the message has no value: send the data as a JSON object")
    if not isinstance(body, bytes | bytearray | memoryview):
        raise EnvelopeError(f"the message value must be bytes, not {type(body).__name__}")
    body = bytes(body)
    if len(body) > MAX_BODY_BYTES:
        raise EnvelopeError(f"data is {len(body)} bytes; at most {MAX_BODY_BYTES} bytes")
    # exact for JSON text, so nothing deeper is ever parsed (a RecursionError is caught in parse)
    if body.count(b"[") + body.count(b"{") > MAX_DEPTH and _too_deep(body):
        raise EnvelopeError(_TOO_DEEP)
    try:
        text = body.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise EnvelopeError(
            f"data is not valid JSON: it is not UTF-8 text (byte {body[exc.start]:#04x} at {exc.start})"
        ) from None
    try:
        data = strict_json(text)
    except json.JSONDecodeError as exc:
        raise EnvelopeError(f"data is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise EnvelopeError("data must be a JSON object")
    if _SURROGATE_ESCAPE.search(text):  # half of a pair, or a whole one (an emoji)
        try:
            json.dumps(data, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise EnvelopeError(
                "data has an unpaired surrogate escape (e.g. \\ud800): text must be valid Unicode"
            ) from None
    return CloudEvent(
        id=headers["ce_id"],
        type=headers["ce_type"],
        source=headers["ce_source"],
        time=_time(headers.get("ce_time")),
        subject=headers.get("ce_subject"),
        sequence=headers.get("ce_sequence"),
        traceparent=headers.get("ce_traceparent") or headers.get("traceparent") or None,
        tracestate=headers.get("ce_tracestate") or headers.get("tracestate") or None,
        data=data,
    )


STRUCTURED_CONTENT_TYPE = "application/cloudevents+json"
BATCH_CONTENT_TYPE = "application/cloudevents-batch+json"
"""The media types of the CloudEvents JSON format: one event, and a batch (a JSON array of them)."""
_ATTRIBUTE = re.compile(r"[a-z0-9]{1,20}")


def read_structured(text: bytes | str, *, batch: bool) -> list[Any]:
    """The events of a structured-mode body (JSON format): one object, or a batch (an array).

    Read as strictly as a binary-mode body; raises :class:`EnvelopeError` with the reason."""
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _too_deep(raw):
        raise EnvelopeError(_TOO_DEEP)
    try:
        document = strict_json(raw.decode("utf-8").removeprefix("\ufeff"))
    except UnicodeDecodeError as exc:
        raise EnvelopeError(f"not UTF-8 text (byte {raw[exc.start]:#04x} at {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise EnvelopeError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise EnvelopeError(_TOO_DEEP) from None
    if batch:
        if not isinstance(document, list):
            raise EnvelopeError(f"a batch ({BATCH_CONTENT_TYPE}) is a JSON array of events")
        return document
    if not isinstance(document, dict):
        raise EnvelopeError(f"an event ({STRUCTURED_CONTENT_TYPE}) is a JSON object")
    return [document]


def binary_of(event: Any) -> tuple[dict[str, str], bytes]:
    """One structured-mode event (a JSON object: ``specversion``, ``id``, ``source``, ``type``,
    ``data``, …) as the Kafka binary mode carries it: ``ce_*`` headers and the data as the body.

    :func:`parse` then reads it exactly as a message from Kafka, with the same rules and reasons;
    this only refuses what the binary mode cannot carry (raises :class:`EnvelopeError`)."""
    if not isinstance(event, dict):
        raise EnvelopeError("an event is a JSON object with specversion, id, source, type and data")
    if "data_base64" in event:
        raise EnvelopeError("data_base64 is not accepted: send the data as a JSON object in data")
    content_type = event.get("datacontenttype", CONTENT_TYPE)
    headers: dict[str, str] = {"content-type": content_type if isinstance(content_type, str) else ""}
    for name, value in event.items():
        if name in ("data", "datacontenttype"):
            continue
        if not _ATTRIBUTE.fullmatch(name):
            raise EnvelopeError(
                f"attribute {name[:60]!r}: attribute names are 1 to 20 lower-case letters or digits"
            )
        if not isinstance(value, str):
            raise EnvelopeError(f"attribute {name} must be a JSON string")
        headers[f"ce_{name}"] = value
    if "data" not in event:
        raise EnvelopeError("the event has no data: send the fact as a JSON object in data")
    try:
        body = json.dumps(event["data"], ensure_ascii=False, separators=(",", ":")).encode()
    except UnicodeEncodeError:
        raise EnvelopeError(
            "data has an unpaired surrogate escape (e.g. \\ud800): text must be valid Unicode"
        ) from None
    return headers, body
