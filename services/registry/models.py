"""The registry's tables: who takes part in network interaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class RegistryModel(SQLModel, registry=registry()):
    """Base of the registry's tables; their metadata is the registry's alone."""


def _now() -> datetime:
    return datetime.now(UTC)


class Organization(RegistryModel, table=True):
    """An educational organization (образовательная организация)."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    full_name: str = Field(max_length=500, index=True)
    short_name: str = Field(max_length=200)
    kind: str = Field(max_length=40, index=True)
    region_code: str = Field(max_length=3, index=True)
    municipality: str | None = Field(default=None, max_length=200)
    inn: str | None = Field(default=None, max_length=10, unique=True)
    created_at: datetime = Field(default_factory=_now, sa_type=DateTime(timezone=True))
    archived_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


metadata = RegistryModel.metadata
