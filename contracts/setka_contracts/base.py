"""The base of every event's data model."""

from __future__ import annotations

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class EventData(BaseModel):
    """Data of one versioned event type.

    Consumers ignore fields they do not know, so a producer may add optional fields
    without a new version; removing or changing a field needs a new ``.vN`` type.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[str]
    topic: ClassVar[str]
    key_field: ClassVar[str]

    def key(self) -> str:
        """The Kafka message key: the aggregate id, so one aggregate's events stay in order."""
        return str(getattr(self, self.key_field))
