"""Events of the registry service: who takes part in network interaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import Field

from . import topics
from .base import EventData


class OrganizationKind(StrEnum):
    school = "school"
    kindergarten = "kindergarten"
    additional_education = "additional_education"
    college = "college"
    methodological_service = "methodological_service"
    education_authority = "education_authority"
    development_institute = "development_institute"


class OrganizationRegistered(EventData):
    """An educational organization (образовательная организация) joined the registry."""

    event_type = "setka.registry.organization.registered.v1"
    topic = topics.REGISTRY
    key_field = "organization_id"

    organization_id: uuid.UUID = Field(description="Our id of the organization")
    full_name: str = Field(description="Full official name")
    short_name: str = Field(description="Short name as used in documents")
    kind: OrganizationKind
    region_code: str = Field(description="Code of the subject of the Russian Federation, e.g. '39'")
    municipality: str | None = Field(default=None, description="Municipality name")
    inn: str | None = Field(default=None, description="ИНН, 10 digits")
    registered_at: datetime
