"""Every event type we publish or accept, by its ``ce_type``."""

from __future__ import annotations

from typing import Any

from .analytics import EVENTS as ANALYTICS_EVENTS
from .audit import EVENTS as AUDIT_EVENTS
from .base import EventData
from .events import OUTBOUND_TYPES as EVENTS_OUTBOUND
from .regional import INBOUND_TYPES as REGIONAL_INBOUND
from .registry import EVENTS as REGISTRY_EVENTS

EVENT_TYPES: dict[str, type[EventData]] = {model.event_type: model for model in REGISTRY_EVENTS}

EVENT_TYPES.update(
    {
        model.event_type: model
        for model in (*EVENTS_OUTBOUND, *REGIONAL_INBOUND, *ANALYTICS_EVENTS, *AUDIT_EVENTS)
    }
)


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of each event type's data."""
    return {name: model.model_json_schema() for name, model in EVENT_TYPES.items()}
