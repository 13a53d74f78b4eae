"""Read models of analytics, built from events only; no personal data is kept here."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class AnalyticsModel(SQLModel, registry=registry()):
    """Base of the analytics tables; their metadata is analytics' alone."""


class RegionSummary(AnalyticsModel, table=True):
    """What the network looks like in one region (субъект РФ)."""

    __tablename__ = "region_summary"

    region_code: str = Field(primary_key=True, max_length=3)
    organizations: int = Field(default=0)
    schools: int = Field(default=0)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class Organization(AnalyticsModel, table=True):
    """An organization as far as analytics needs it: where it is and what it is (no names, no data
    about people); learned from the registry's ``organization.registered`` events."""

    __tablename__ = "organization"

    id: uuid.UUID = Field(primary_key=True)
    region_code: str = Field(max_length=3, index=True)
    kind: str = Field(max_length=40)
    registered_at: datetime = Field(sa_type=DateTime(timezone=True))


metadata = AnalyticsModel.metadata
