"""Setka's event contracts: the envelope, the topics, the versioned event types.

Schemas only, no behaviour: a regional system can install this package to publish to us.
"""

from .base import EventData
from .catalog import EVENT_TYPES, json_schemas
from .envelope import (
    BATCH_CONTENT_TYPE,
    STRUCTURED_CONTENT_TYPE,
    CloudEvent,
    EnvelopeError,
    as_sequence,
    binary_of,
    decode_headers,
    parse,
    printable_header,
    read_structured,
    sequence_of,
)

__all__ = [
    "BATCH_CONTENT_TYPE",
    "EVENT_TYPES",
    "STRUCTURED_CONTENT_TYPE",
    "CloudEvent",
    "EnvelopeError",
    "EventData",
    "as_sequence",
    "binary_of",
    "decode_headers",
    "json_schemas",
    "parse",
    "printable_header",
    "read_structured",
    "sequence_of",
]
