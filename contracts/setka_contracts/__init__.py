"""Setka's event contracts: the envelope, the topics, the versioned event types.

Schemas only, no behaviour: a regional system can install this package to publish to us.
"""

from .base import EventData
from .catalog import EVENT_TYPES, json_schemas
from .envelope import (
    CloudEvent,
    EnvelopeError,
    as_sequence,
    decode_headers,
    parse,
    printable_header,
    sequence_of,
)

__all__ = [
    "EVENT_TYPES",
    "CloudEvent",
    "EnvelopeError",
    "EventData",
    "as_sequence",
    "decode_headers",
    "json_schemas",
    "parse",
    "printable_header",
    "sequence_of",
]
