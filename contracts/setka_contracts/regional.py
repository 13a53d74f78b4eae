"""The inbound contract: facts that regional systems publish to Setka's ``regional.*`` topics.

A regional system (the institute's course system, the regional assessment system, an LMS) sends
one CloudEvent per fact, in Kafka binary mode, to the topic named by the model's ``topic``.
Organizations are referred to by our id or by their ИНН. Every fact carries the sending system
(``source_system``) and its own id of the fact (``external_id``), so that sending it again, or a
newer version of it, replaces what we had instead of adding a second copy.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from . import topics
from .base import EventData
from .events import ActivityFormat, ActivityType, LearningProcess
from .identifiers import inn_problem


class OrganizationRef(BaseModel):
    """An organization, by our id or by its ИНН (at least one; our id wins if both are given)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: uuid.UUID | None = Field(default=None, description="Setka's id of the organization")
    inn: str | None = Field(
        default=None, description="ИНН of the organization, 10 digits", examples=["3901000013"]
    )

    @field_validator("inn")
    @classmethod
    def _inn(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if problem := inn_problem(value):
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_of(self) -> OrganizationRef:
        if self.id is None and self.inn is None:
            raise ValueError("give the organization's id or its inn")
        return self

    def describe(self) -> str:
        return f"id {self.id}" if self.id else f"ИНН {self.inn}"


class RegionalFact(EventData):
    """What every inbound fact carries: who sent it and the sender's own id of it."""

    key_field = "external_id"

    source_system: str = Field(
        min_length=1,
        max_length=100,
        description="The sending system, stable over time",
        examples=["kripkro-lms"],
    )
    external_id: str = Field(
        min_length=1,
        max_length=200,
        description="The sending system's id of this fact",
        examples=["A-2026-0042"],
    )


class RegionalActivityStatus(StrEnum):
    planned = "planned"
    announced = "announced"
    held = "held"
    cancelled = "cancelled"


class ActivityRecordedByRegion(RegionalFact):
    """An activity (мероприятие) recorded in a regional system; upserted by source + external id.

    A later ``updated_at`` replaces an earlier one; an older version arriving late is ignored.
    """

    event_type = "setka.regional.activity.recorded.v1"
    topic = topics.REGIONAL_ACTIVITIES

    title: str = Field(min_length=1, max_length=500)
    activity_type: ActivityType
    processes: list[LearningProcess] = Field(default_factory=list)
    format: ActivityFormat = ActivityFormat.in_person
    host: OrganizationRef = Field(description="The organization that holds the activity")
    network_id: uuid.UUID | None = Field(default=None, description="Setka's id of the network, if known")
    starts_at: datetime
    ends_at: datetime
    audience: str | None = Field(default=None, max_length=500)
    capacity: int | None = Field(default=None, ge=1)
    status: RegionalActivityStatus = RegionalActivityStatus.planned
    updated_at: datetime = Field(description="When the sending system last changed this activity")

    @model_validator(mode="after")
    def _period(self) -> ActivityRecordedByRegion:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class AttendanceRecordedByRegion(RegionalFact):
    """Who took part in an activity recorded by the same system, and for how many hours.

    ``activity_external_id`` is the sender's id of the activity; when the attendance arrives
    first it waits for the activity.
    """

    event_type = "setka.regional.attendance.recorded.v1"
    topic = topics.REGIONAL_ATTENDANCE

    activity_external_id: str = Field(min_length=1, max_length=200)
    organization: OrganizationRef = Field(description="The participating organization")
    educator_id: uuid.UUID | None = Field(
        default=None, description="Setka's id of the participating educator; none if the whole organization"
    )
    hours: float = Field(gt=0, le=200)


class AssessmentProcedure(StrEnum):
    """ВПР, ОГЭ, ЕГЭ or a regional diagnostic."""

    vpr = "vpr"
    oge = "oge"
    ege = "ege"
    regional_diagnostic = "regional_diagnostic"


class AssessmentResultPublished(RegionalFact):
    """Results of one assessment procedure at one school: one subject, grade and year."""

    event_type = "setka.regional.assessment.published.v1"
    topic = topics.REGIONAL_ASSESSMENTS

    organization: OrganizationRef
    procedure: AssessmentProcedure
    subject: str = Field(min_length=1, max_length=100, examples=["математика"])
    grade: int = Field(ge=1, le=11)
    year: int = Field(ge=2000, le=2100)
    participants: int = Field(ge=0)
    mean_score: float = Field(ge=0)
    mark_shares: dict[str, float] = Field(
        description="Share of each mark, '2'..'5', each 0..1, summing to 1",
        examples=[{"2": 0.1, "3": 0.4, "4": 0.35, "5": 0.15}],
    )

    @field_validator("mark_shares")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - {"2", "3", "4", "5"})
        if unknown:
            raise ValueError(f"marks are '2', '3', '4', '5'; not {', '.join(unknown)}")
        if any(share < 0 or share > 1 for share in value.values()):
            raise ValueError("each share is between 0 and 1")
        if value and abs(sum(value.values()) - 1) > 0.011:
            raise ValueError(f"shares must sum to 1, they sum to {sum(value.values()):.3f}")
        return value


class TrainingCompleted(RegionalFact):
    """An educator completed professional training (курсы повышения квалификации)."""

    event_type = "setka.regional.training.completed.v1"
    topic = topics.REGIONAL_TRAININGS

    educator_id: uuid.UUID = Field(description="Setka's id of the educator")
    organization: OrganizationRef = Field(description="The educator's organization")
    course: str = Field(min_length=1, max_length=500)
    provider: str = Field(min_length=1, max_length=300)
    hours: int = Field(gt=0, le=2000)
    completed_on: date


class DeficitLevel(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"


class DeficitDiagnosed(RegionalFact):
    """A professional deficit (профессиональный дефицит) of an educator found by a diagnostic."""

    event_type = "setka.regional.deficit.diagnosed.v1"
    topic = topics.REGIONAL_DEFICITS

    educator_id: uuid.UUID = Field(description="Setka's id of the educator")
    organization: OrganizationRef = Field(description="The educator's organization")
    competency: str = Field(min_length=1, max_length=300, examples=["формирующее оценивание"])
    level: DeficitLevel
    diagnosed_on: date


INBOUND_TYPES: tuple[type[RegionalFact], ...] = (
    ActivityRecordedByRegion,
    AttendanceRecordedByRegion,
    AssessmentResultPublished,
    TrainingCompleted,
    DeficitDiagnosed,
)
