"""The events service's tables. ``known_*`` tables are its local copy of the registry."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class EventsModel(SQLModel, registry=registry()):
    """Base of the events service's tables; their metadata is its alone."""


class KnownOrganization(EventsModel, table=True):
    """An organization as the registry announced it, so rules can be checked locally."""

    __tablename__ = "known_organization"

    id: uuid.UUID = Field(primary_key=True)
    short_name: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    region_code: str = Field(max_length=3)
    inn: str | None = Field(default=None, max_length=10, index=True)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


metadata = EventsModel.metadata
