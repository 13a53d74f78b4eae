"""The audit trail: every write through a subgraph records who did it, in what scope, what it was
and when, in the same transaction as the write itself.

Each service publishes its entries to ``setka.audit``, keyed by the caller's subject, so one
person's actions stay in order; the analytics service keeps them for regional admins to query.
An entry names the events the write caused (type and aggregate key), not their data, so the
trail itself holds no more personal data than the subject's id.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from . import topics
from .base import EventData


class AuditedEvent(BaseModel):
    """One event a write caused."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_id: str = Field(description="The event's ce_id")
    event_type: str = Field(description="Its ce_type, e.g. setka.registry.organization.updated.v1")
    key: str = Field(description="The aggregate it changed (the message key)")
    note: str | None = Field(
        default=None,
        description="What the event amounted to, in a few Russian words, where its type and key do not"
        " say it: e.g. an import's kind and rows («организации: прочитано 12, принято 10, отклонено 2»)",
    )


class AuditRecorded(EventData):
    """A write was made."""

    event_type = "setka.audit.recorded.v1"
    topic: ClassVar[str] = topics.AUDIT
    key_field: ClassVar[str] = "subject"

    entry_id: uuid.UUID = Field(description="Our id of the entry")
    at: datetime = Field(description="When the write was committed (UTC)")
    service: str = Field(description="The service that made it: registry, events, analytics")
    operation: str = Field(description="The GraphQL mutation, e.g. updateOrganization")
    subject: str = Field(description="Who: the token's subject")
    roles: list[str] = Field(default_factory=list, description="The caller's roles")
    actor_region_code: str | None = Field(default=None, description="The caller's region ('*': all)")
    actor_municipality_id: str | None = Field(default=None, description="The caller's municipality")
    actor_organization_id: str | None = Field(default=None, description="The caller's organization")
    region_code: str | None = Field(default=None, description="The region the write concerns")
    municipality_id: str | None = Field(default=None, description="The municipality it concerns")
    organization_ids: list[str] = Field(default_factory=list, description="The organizations it concerns")
    events: list[AuditedEvent] = Field(default_factory=list, description="What it changed")


EVENTS: tuple[type[EventData], ...] = (AuditRecorded,)
