"""What every ``document.attached`` event carries: a file attached to something a service owns.
The file itself never travels on Kafka; its checksum does, and a portal downloads it from the
gateway (``/documents/<service>/<document_id>``)."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field

from .base import EventData


class DocumentAttachedData(EventData):
    """The fields of a service's ``document.attached`` event (each service declares its own type)."""

    key_field = "owner_id"

    document_id: uuid.UUID
    owner_kind: str = Field(
        description="What it is attached to: agreement, agreement_amendment, regulation, activity…"
    )
    owner_id: uuid.UUID = Field(description="The id of what it is attached to: the message key")
    title: str | None = Field(default=None, description="What it is, as the uploader put it")
    file_name: str = Field(description="The file's name as uploaded")
    media_type: str = Field(description="Its type, read from its content")
    size: int = Field(description="Bytes")
    sha256: str = Field(description="SHA-256 of the content, hex")
    uploaded_at: datetime
    uploaded_by_organization_id: uuid.UUID | None = Field(
        default=None, description="The uploader's organization, if they represent one"
    )
