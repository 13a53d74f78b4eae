"""The published contract as an AsyncAPI 3.0 document, generated from the event catalog.

``python -m setka_contracts.asyncapi docs/asyncapi.json`` writes it (``make docs``). Channels are
the Kafka topics; Setka *receives* on the inbound ``regional.*`` topics and *sends* on its
services' outbound topics. Every message documents its CloudEvents headers (``ce_type`` fixed to
the message's type), its key, the JSON Schema of its data and an example.
"""

from __future__ import annotations

import enum
import json
import sys
import types
import typing
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from pydantic.json_schema import models_json_schema

from . import topics
from .base import EventData
from .catalog import EVENT_TYPES
from .envelope import MAX_BODY_BYTES, MAX_DEPTH, MAX_HEADER_BYTES, MAX_HEADERS, MAX_ID_CHARS, SPEC_VERSION
from .regional import INBOUND_TYPES

REF = "#/components/schemas/{model}"
EXAMPLE_TIME = datetime(2026, 3, 12, 10, 0, tzinfo=UTC)
EXAMPLE_INN = "0814000017"

INBOUND_EXAMPLES: dict[str, dict[str, Any]] = {
    "setka.regional.activity.recorded.v1": {
        "source_system": "kripkro-lms",
        "external_id": "A-2026-0042",
        "title": "Семинар «Формирующее оценивание на уроках математики»",
        "activity_type": "seminar",
        "processes": ["training", "experience_exchange"],
        "format": "blended",
        "host": {"inn": EXAMPLE_INN},
        "starts_at": "2026-03-12T10:00:00+03:00",
        "ends_at": "2026-03-12T13:00:00+03:00",
        "audience": "учителя математики 5–9 классов",
        "capacity": 40,
        "status": "held",
        "updated_at": "2026-03-12T15:00:00+03:00",
    },
    "setka.regional.attendance.recorded.v1": {
        "source_system": "kripkro-lms",
        "external_id": "P-2026-0042-017",
        "activity_external_id": "A-2026-0042",
        "organization": {"inn": EXAMPLE_INN},
        "educator_id": "4b0e6c1e-0f5e-4a8e-9a51-5c2f9d0b7a11",
        "hours": 3,
        "recorded_at": "2026-03-12T18:05:00+03:00",
    },
    "setka.regional.assessment.published.v1": {
        "source_system": "rcoi-08",
        "external_id": "VPR-2026-MATH-5-0814000017",
        "organization": {"inn": EXAMPLE_INN},
        "procedure": "vpr",
        "subject": "математика",
        "grade": 5,
        "year": 2026,
        "participants": 48,
        "mean_score": 3.52,
        "mark_shares": {"2": 0.1, "3": 0.38, "4": 0.37, "5": 0.15},
        "recorded_at": "2026-03-12T09:30:00+03:00",
    },
    "setka.regional.training.completed.v1": {
        "source_system": "kripkro-courses",
        "external_id": "KPK-2026-0311",
        "educator_id": "4b0e6c1e-0f5e-4a8e-9a51-5c2f9d0b7a11",
        "organization": {"inn": EXAMPLE_INN},
        "course": "Формирование функциональной грамотности обучающихся",
        "provider": "КРИПКРО",
        "hours": 36,
        "completed_on": "2026-02-20",
        "recorded_at": "2026-02-21T12:00:00+03:00",
    },
    "setka.regional.deficit.diagnosed.v1": {
        "source_system": "kripkro-diagnostics",
        "external_id": "DEF-2026-0077",
        "educator_id": "4b0e6c1e-0f5e-4a8e-9a51-5c2f9d0b7a11",
        "organization": {"inn": EXAMPLE_INN},
        "competency": "формирующее оценивание",
        "level": "high",
        "diagnosed_on": "2026-01-15",
        "recorded_at": "2026-01-16T12:00:00+03:00",
    },
}
_V2_REFERENCES: dict[str, dict[str, Any]] = {
    "setka.regional.activity.recorded.v2": {"host": {"school_code": "080123"}},
    "setka.regional.attendance.recorded.v2": {
        "organization": {"ogrn": "1020800000000"},
        "educator": {"person_id": "P-000417"},
    },
    "setka.regional.assessment.published.v2": {"organization": {"school_code": "080123"}},
    "setka.regional.training.completed.v2": {
        "educator": {"snils": "112-233-445 95"},
        "organization": {"own_id": "OO-17"},
    },
    "setka.regional.deficit.diagnosed.v2": {
        "educator": {"person_id": "P-000417"},
        "organization": {"inn": EXAMPLE_INN},
    },
}
"""Version 2 examples: the version 1 example with the references regional systems hold."""
for _v2, _references in _V2_REFERENCES.items():
    _v1 = {k: v for k, v in INBOUND_EXAMPLES[_v2.removesuffix("v2") + "v1"].items() if k != "educator_id"}
    INBOUND_EXAMPLES[_v2] = _v1 | _references


def _example_value(annotation: Any, name: str) -> Any:
    """A plausible value of a field's type, for the generated examples of outbound events."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        return _example_value(options[0], name)
    if origin in (list, tuple, set):
        return []
    if origin is dict:
        return {}
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return next(iter(annotation)).value
        if issubclass(annotation, bool):
            return True
        if issubclass(annotation, uuid.UUID):
            return str(uuid.uuid5(uuid.NAMESPACE_URL, f"setka:{name}"))
        if issubclass(annotation, datetime):
            return EXAMPLE_TIME.isoformat()
        if issubclass(annotation, date):
            return EXAMPLE_TIME.date().isoformat()
        if issubclass(annotation, int):
            return 2026 if name == "year" else 1
        if issubclass(annotation, float):
            return 1.5
        if issubclass(annotation, str):
            return EXAMPLE_INN if "inn" in name else f"{name} (пример)"
    return None


def example(model: type[EventData]) -> dict[str, Any]:
    """A valid example of the model's data: hand-written for inbound types, generated otherwise."""
    if model.event_type in INBOUND_EXAMPLES:
        data = INBOUND_EXAMPLES[model.event_type]
    else:
        data = {
            name: _example_value(field.annotation, name)
            for name, field in model.model_fields.items()
            if field.is_required() or field.default is None
        }
        if "rating" in data:
            data["rating"] = 5
    return model.model_validate(data).model_dump(mode="json", exclude_none=True)


def _channel_id(topic: str) -> str:
    head, *rest = topic.replace("-", ".").split(".")
    return head + "".join(part.capitalize() for part in rest)


def _message_id(event_type: str) -> str:
    return "".join(part.capitalize() for part in event_type.replace("_", ".").split("."))


def _headers(event_type: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["ce_specversion", "ce_id", "ce_type", "ce_source"],
        "maxProperties": MAX_HEADERS,
        "properties": {
            "ce_specversion": {"type": "string", "const": SPEC_VERSION},
            "ce_id": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_ID_CHARS,
                "pattern": "^\\S+$",
                "description": "Unique per event and source; a redelivery keeps the same id. "
                "Printable, no spaces or control characters.",
            },
            "ce_type": {"type": "string", "const": event_type},
            "ce_source": {
                "type": "string",
                "format": "uri-reference",
                "minLength": 1,
                "maxLength": MAX_ID_CHARS,
                "pattern": "^[A-Za-z0-9\\-._~:/?#\\[\\]@!$&'()*+,;=%]+$",
                "description": "URI of the sending system, e.g. /regional/kripkro-lms",
            },
            "ce_time": {
                "type": "string",
                "format": "date-time",
                "description": "Optional; RFC 3339 with a UTC offset. Not used to order facts.",
            },
            "ce_subject": {"type": "string", "maxLength": MAX_HEADER_BYTES},
            "ce_sequence": {
                "type": "string",
                "maxLength": MAX_ID_CHARS,
                "description": "Optional (the CloudEvents sequence extension). Setka's services send "
                "their outbox position as 20 zero-padded digits: of two events of one aggregate, the "
                "higher is the newer, and a copy keeps the newest it has seen.",
            },
            "ce_traceparent": {
                "type": "string",
                "maxLength": MAX_HEADER_BYTES,
                "description": "Optional (the CloudEvents distributed-tracing extension): the W3C "
                "traceparent of the work that produced the event, e.g. "
                "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01. Setka's consumers continue "
                "that trace; without it, a trace starts at the consumer, with the event's ce_id.",
            },
            "ce_tracestate": {
                "type": "string",
                "maxLength": MAX_HEADER_BYTES,
                "description": "Optional: the W3C tracestate that goes with ce_traceparent.",
            },
            "content-type": {"type": "string", "const": "application/json"},
        },
    }


def document() -> dict[str, Any]:
    models = sorted(EVENT_TYPES.values(), key=lambda m: (m.topic, m.event_type))
    _, schemas = models_json_schema([(m, "validation") for m in models], ref_template=REF)
    inbound = {m.topic for m in INBOUND_TYPES}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for topic in sorted({m.topic for m in models}):
        of_topic = [m for m in models if m.topic == topic]
        channel = _channel_id(topic)
        refs = {}
        for model in of_topic:
            message_id = _message_id(model.event_type)
            data = example(model)
            messages[message_id] = {
                "name": model.event_type,
                "title": model.__name__,
                "summary": (model.__doc__ or model.__name__).strip().splitlines()[0],
                "contentType": "application/json",
                "headers": _headers(model.event_type),
                "payload": {"$ref": REF.format(model=model.__name__)},
                "bindings": {
                    "kafka": {
                        "key": {"type": "string", "description": f"the {model.key_field} of the data"},
                        "bindingVersion": "0.5.0",
                    }
                },
                "examples": [
                    {
                        "name": f"{model.__name__}Example",
                        "headers": {
                            "ce_specversion": SPEC_VERSION,
                            "ce_id": str(uuid.uuid5(uuid.NAMESPACE_URL, model.event_type)),
                            "ce_type": model.event_type,
                            "ce_source": "/regional/kripkro-lms"
                            if topic in inbound
                            else f"/setka/{topic.split('.')[-1]}",
                            "ce_time": EXAMPLE_TIME.isoformat(),
                            "content-type": "application/json",
                        },
                        "payload": data,
                    }
                ],
            }
            refs[message_id] = {"$ref": f"#/components/messages/{message_id}"}
        channels[channel] = {
            "address": topic,
            "description": (
                "Inbound: regional systems publish here; invalid messages go to "
                f"{topics.dead_letter(topic)} with the reason in the dlq_reason header. "
                f"Data: strict JSON (no NaN/Infinity, no key twice), at most {MAX_BODY_BYTES} bytes, "
                f"nested at most {MAX_DEPTH} levels; headers at most {MAX_HEADERS}, "
                f"each value at most {MAX_HEADER_BYTES} bytes. The same facts may be sent over HTTP "
                "(server http-facts) and are applied by the same consumer with the same reasons"
                if topic in inbound
                else f"Outbound domain events, keyed by aggregate id (dead letters of consumers: {topic}.dlq)"
            ),
            "messages": refs,
        }
        action = "receive" if topic in inbound else "send"
        operations[f"{action}{channel[0].upper()}{channel[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel}"},
            "messages": [{"$ref": f"#/channels/{channel}/messages/{mid}"} for mid in refs],
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Setka — events of network interaction of schools",
            "version": "1.0.0",
            "description": (
                "CloudEvents 1.0 in Kafka binary content mode: attributes as ce_* headers, data as "
                "a JSON object. Types are versioned (…v1); consumers ignore unknown optional fields. "
                "See docs/integrators.md."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:9092",
                "protocol": "kafka",
                "description": "The local stack (make run)",
            },
            "http-facts": {
                "host": "127.0.0.1:8000",
                "pathname": "/facts",
                "protocol": "http",
                "description": (
                    "For systems without Kafka: POST the inbound facts to the gateway in the CloudEvents "
                    "HTTP binding — binary mode (ce-* headers, the data as the body), structured mode "
                    "(application/cloudevents+json) or batched mode (application/cloudevents-batch+json, "
                    "a JSON array, all or nothing) — with the source's bearer token. 202: kept before the "
                    "answer, applied exactly once by the consumer of the fact's topic; 200: kept before; "
                    "400: the consumer's reason, nothing kept. See docs/integrators.md."
                ),
            },
        },
        "channels": channels,
        "operations": operations,
        "components": {"schemas": schemas.get("$defs", {}), "messages": messages},
    }


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    text = json.dumps(document(), ensure_ascii=False, indent=2) + "\n"
    if not args or args[0] == "-":
        sys.stdout.write(text)
        return
    path = Path(args[0])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path} ({len(EVENT_TYPES)} message types)")


if __name__ == "__main__":
    main()
