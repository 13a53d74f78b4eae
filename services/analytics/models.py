"""Read models of analytics, built from events only (the registry's and the events service's
topics); never read from another service's database. Beside them, the audit trail every service
publishes (``setka.audit``), kept as it was recorded.

No personal data is kept here: people are ids (educators, the subjects of audit entries and of
the people who act on alerts), never names; organizations, networks, plan items and activities
are public facts of the system. Each read model is a projection one handler keeps; the alerts,
what people did with them and the school holidays are analytics' own.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from setka_runtime.tables import no_entries, no_items
from sqlalchemy import JSON, BigInteger, Column, DateTime, Index
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class AnalyticsModel(SQLModel, registry=registry()):
    """Base of the analytics tables; their metadata is analytics' alone."""


def sequence_field() -> Any:
    """The ``ce_sequence`` of the newest event applied to the row (its producer's outbox position,
    0 before sequences): an event with a lower one changes none of the row's state."""
    return Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})


class RegionSummary(AnalyticsModel, table=True):
    """What the network looks like in one region (субъект РФ)."""

    __tablename__ = "region_summary"

    region_code: str = Field(primary_key=True, max_length=3)
    organizations: int = Field(default=0)
    schools: int = Field(default=0)
    updated_at: datetime = Field(sa_type=DateTime(timezone=True))


class Region(AnalyticsModel, table=True):
    """A subject of the Russian Federation by its name in the registry's reference data, as the
    organizations' events name it (``region_name``): what titles say instead of the code."""

    __tablename__ = "region"

    code: str = Field(primary_key=True, max_length=3)
    name: str = Field(max_length=200)


class Organization(AnalyticsModel, table=True):
    """An organization: where it is and what it is (``organization.registered``/``updated``/
    ``archived``)."""

    __tablename__ = "organization"

    id: uuid.UUID = Field(primary_key=True)
    region_code: str = Field(max_length=3, index=True)
    kind: str = Field(max_length=40)
    registered_at: datetime = Field(sa_type=DateTime(timezone=True))
    short_name: str | None = Field(default=None, max_length=500)
    municipality: str | None = Field(default=None, max_length=200)
    municipality_id: uuid.UUID | None = Field(default=None, index=True)
    archived_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    sequence: int = sequence_field()


class OrganizationStatus(AnalyticsModel, table=True):
    """A dated status of a school (low results, adverse conditions, stable results): held from
    ``entered_on`` up to, not including, ``left_on``."""

    __tablename__ = "organization_status"

    organization_id: uuid.UUID = Field(primary_key=True)
    status: str = Field(primary_key=True, max_length=40)
    entered_on: date = Field(primary_key=True)
    left_on: date | None = None


class RiskProfile(AnalyticsModel, table=True):
    """A school's latest risk profile: each risk factor rated low, medium or high."""

    __tablename__ = "risk_profile"

    organization_id: uuid.UUID = Field(primary_key=True)
    assessed_on: date
    factors: dict[str, str] = Field(default_factory=no_entries, sa_column=Column(JSON, nullable=False))


class Network(AnalyticsModel, table=True):
    __tablename__ = "network"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=500)
    level: str = Field(max_length=40)
    region_code: str = Field(max_length=3, index=True)
    municipality_id: uuid.UUID | None = None
    governing_body_id: uuid.UUID | None = None
    started_on: date
    ended_on: date | None = None
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    """The registry's version of the network: a correction applies only over an older one."""


class Membership(AnalyticsModel, table=True):
    """An organization's participation in a network in a role (centre, partner, supported, ...)."""

    __tablename__ = "membership"
    __table_args__ = (Index("ix_membership_network_org", "network_id", "organization_id"),)

    id: uuid.UUID = Field(primary_key=True)
    network_id: uuid.UUID
    organization_id: uuid.UUID = Field(index=True)
    role: str = Field(max_length=40)
    joined_on: date
    left_on: date | None = None
    sequence: int = sequence_field()
    role_sequence: int = sequence_field()
    """The sequence of the newest event that set ``role`` (joined, left, or the centre's designation)."""


class Educator(AnalyticsModel, table=True):
    """An educator by id only: qualification category and subjects, never a name."""

    __tablename__ = "educator"

    id: uuid.UUID = Field(primary_key=True)
    qualification_category: str | None = Field(default=None, max_length=40)
    subjects: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))
    sequence: int = sequence_field()


class Employment(AnalyticsModel, table=True):
    """An educator's post at an organization (ids and dates only)."""

    __tablename__ = "employment"

    id: uuid.UUID = Field(primary_key=True)
    educator_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID = Field(index=True)
    started_on: date | None = None
    ended_on: date | None = None


class Resource(AnalyticsModel, table=True):
    """A resource an organization offers to the network (premises, equipment, programme, ...)."""

    __tablename__ = "resource"

    id: uuid.UUID = Field(primary_key=True)
    owner_id: uuid.UUID = Field(index=True)
    kind: str = Field(max_length=40)
    subjects: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))
    available_from: date | None = None
    available_to: date | None = None
    withdrawn_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Activity(AnalyticsModel, table=True):
    """An activity (мероприятие): what, who hosts it, in which network, when, in which state.
    ``held_on`` is the day it was recorded as held (or reported), if it was."""

    __tablename__ = "activity"
    __table_args__ = (Index("ix_activity_network_starts", "network_id", "starts_at"),)

    id: uuid.UUID = Field(primary_key=True)
    title: str | None = Field(default=None, max_length=500)
    network_id: uuid.UUID | None = None
    host_organization_id: uuid.UUID = Field(index=True)
    plan_item_id: uuid.UUID | None = Field(default=None, index=True)
    activity_type: str = Field(max_length=60)
    processes: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))
    format: str = Field(max_length=20)
    starts_at: datetime = Field(sa_type=DateTime(timezone=True))
    ends_at: datetime = Field(sa_type=DateTime(timezone=True))
    status: str = Field(max_length=20)
    held_on: date | None = None
    sequence: int = sequence_field()
    status_sequence: int = sequence_field()
    """The sequence of the newest event that set ``status`` (a whole state, or a transition)."""
    dates_sequence: int = sequence_field()
    """The sequence of the newest event that set ``starts_at`` and ``ends_at`` (or a postponement)."""


class Attendance(AnalyticsModel, table=True):
    """Who attended an activity, for how many hours; the activity's day, host and network are
    copied in so indicators over millions of rows need no join."""

    __tablename__ = "attendance"
    __table_args__ = (
        Index("ix_attendance_org_day", "organization_id", "activity_day"),
        Index("ix_attendance_network_day", "network_id", "activity_day"),
    )

    id: uuid.UUID = Field(primary_key=True)
    activity_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID
    educator_id: uuid.UUID | None = Field(default=None, index=True)
    hours: float
    activity_day: date
    host_organization_id: uuid.UUID
    network_id: uuid.UUID | None = None
    sequence: int = sequence_field()


class Feedback(AnalyticsModel, table=True):
    __tablename__ = "feedback"

    id: uuid.UUID = Field(primary_key=True)
    activity_id: uuid.UUID = Field(index=True)
    rating: int
    organization_id: uuid.UUID | None = None
    sequence: int = sequence_field()


class Plan(AnalyticsModel, table=True):
    __tablename__ = "plan"

    id: uuid.UUID = Field(primary_key=True)
    network_id: uuid.UUID = Field(index=True)
    year: int
    status: str = Field(default="draft", max_length=20)
    period: str = Field(default="calendar_year", max_length=20, description="calendar_year or school_year")


class PlanItem(AnalyticsModel, table=True):
    """An item of a network's joint plan, due on a day (as last amended); done on time when an
    activity of the item was held, or the task was marked done, on or before that day. An item
    an amendment withdrew counts no more."""

    __tablename__ = "plan_item"

    id: uuid.UUID = Field(primary_key=True)
    plan_id: uuid.UUID = Field(index=True)
    network_id: uuid.UUID = Field(index=True)
    title: str | None = Field(default=None, max_length=500)
    due_on: date
    responsible_organization_id: uuid.UUID | None = None
    kind: str = Field(default="activity", max_length=20, description="activity or task")
    done_on: date | None = Field(default=None, description="The (UTC) day a task was marked done")
    withdrawn: bool = False
    sequence: int = sequence_field()


class Mobility(AnalyticsModel, table=True):
    """Students or teachers of one organization learning at another (academic mobility)."""

    __tablename__ = "mobility"

    id: uuid.UUID = Field(primary_key=True)
    kind: str = Field(max_length=20)
    home_organization_id: uuid.UUID = Field(index=True)
    host_organization_id: uuid.UUID = Field(index=True)
    network_id: uuid.UUID | None = None
    programme: str = Field(max_length=500)
    participants: int
    starts_on: date
    ends_on: date
    hours: float
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    """The events service's version of the record: the highest one seen is kept."""
    deleted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    """Deleted as a mistake: kept (so an older version cannot bring it back), never counted."""


class ResourceUse(AnalyticsModel, table=True):
    """A partner's resource used by another organization under an accepted request (обмен
    ресурсами): who owns it, who used it, in which network, on which days (both included)."""

    __tablename__ = "resource_use"
    __table_args__ = (Index("ix_resource_use_owner_day", "owner_id", "used_from"),)

    id: uuid.UUID = Field(primary_key=True)
    request_id: uuid.UUID
    version: int
    """The request's change number the use was recorded at: a kept use is replaced only by a newer one."""
    resource_id: uuid.UUID
    resource_kind: str = Field(max_length=20)
    owner_id: uuid.UUID
    requester_id: uuid.UUID = Field(index=True)
    network_id: uuid.UUID | None = None
    used_from: date
    used_to: date
    figure: float | None = None


class AssessmentResult(AnalyticsModel, table=True):
    """One school's result in one assessment procedure, subject, grade and year."""

    __tablename__ = "assessment_result"
    __table_args__ = (Index("ix_assessment_org_year", "organization_id", "year"),)

    id: uuid.UUID = Field(primary_key=True)
    organization_id: uuid.UUID
    procedure: str = Field(max_length=40)
    subject: str = Field(max_length=200)
    grade: int
    year: int
    participants: int
    mean_score: float
    lowest_mark_share: float = Field(description="Share (0–1) of participants with the lowest mark")
    sequence: int = sequence_field()


class Training(AnalyticsModel, table=True):
    """Professional training an educator completed (by id)."""

    __tablename__ = "training"

    id: uuid.UUID = Field(primary_key=True)
    educator_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID
    course: str = Field(max_length=500)
    hours: int
    completed_on: date
    sequence: int = sequence_field()


class Deficit(AnalyticsModel, table=True):
    """A professional deficit diagnosed for an educator (by id): competency and level."""

    __tablename__ = "deficit"

    id: uuid.UUID = Field(primary_key=True)
    educator_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID = Field(index=True)
    competency: str = Field(max_length=300)
    level: str = Field(max_length=40)
    diagnosed_on: date
    sequence: int = sequence_field()


class Alert(AnalyticsModel, table=True):
    """An alert raised by a rule about one subject (a school, a plan item, a deficit, an
    activity); open until ``resolved_at``. People in its scope acknowledge, assign and snooze it:
    each keeps its latest state with who and when (every change is an event on the topic)."""

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_open", "rule", "subject_id", "resolved_at"),)

    id: uuid.UUID = Field(primary_key=True)
    rule: str = Field(max_length=60)
    subject_id: uuid.UUID
    organization_id: uuid.UUID | None = Field(default=None, index=True)
    network_id: uuid.UUID | None = Field(default=None, index=True)
    raised_at: datetime = Field(sa_type=DateTime(timezone=True))
    resolved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    details: dict[str, Any] = Field(default_factory=no_entries, sa_column=Column(JSON, nullable=False))
    acknowledged_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    acknowledged_by: str | None = Field(default=None, max_length=200)
    assignee_organization_id: uuid.UUID | None = None
    assignee_subject: str | None = Field(default=None, max_length=200)
    assigned_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    assigned_by: str | None = Field(default=None, max_length=200)
    snoozed_until: date | None = None
    snoozed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    snoozed_by: str | None = Field(default=None, max_length=200)


class AlertComment(AnalyticsModel, table=True):
    """A comment on an alert: the network's working note, read only by those whose scope covers
    the alert (its text is not published in the event)."""

    __tablename__ = "alert_comment"
    __table_args__ = (Index("ix_alert_comment_alert_at", "alert_id", "at"),)

    id: uuid.UUID = Field(primary_key=True)
    alert_id: uuid.UUID
    author: str = Field(max_length=200)
    at: datetime = Field(sa_type=DateTime(timezone=True))
    text: str = Field(max_length=2000)


class SchoolBreak(AnalyticsModel, table=True):
    """A school holiday (каникулы) of a region's school year, both days included: the alert rules
    do not count its days. One of each kind a school year; ``school_year`` is the year it starts
    in (2025 for 2025/26, whose summer break is in 2026)."""

    __tablename__ = "school_break"

    region_code: str = Field(primary_key=True, max_length=3)
    school_year: int = Field(primary_key=True)
    kind: str = Field(primary_key=True, max_length=20)
    starts_on: date
    ends_on: date
    set_by: str = Field(max_length=200)
    set_at: datetime = Field(sa_type=DateTime(timezone=True))


class IndicatorTarget(AnalyticsModel, table=True):
    """A target (целевое значение) of one indicator for a calendar or school year, decided by a
    region (its admin) or a network (its editors): analytics' own. ``scope_key`` is the region's
    code or the network's id; ``region_code`` is where the decision lands (a network's region);
    ``year`` of a school year is the year it starts in. Who set it is an id and a role, never a
    name."""

    __tablename__ = "indicator_target"

    scope_kind: str = Field(primary_key=True, max_length=20)
    scope_key: str = Field(primary_key=True, max_length=40)
    indicator: str = Field(primary_key=True, max_length=60)
    year_kind: str = Field(primary_key=True, max_length=20)
    year: int = Field(primary_key=True)
    value: float
    region_code: str = Field(max_length=3, index=True)
    set_by: str = Field(max_length=200)
    set_by_role: str = Field(max_length=40)
    set_at: datetime = Field(sa_type=DateTime(timezone=True))


class AuditEntry(AnalyticsModel, table=True):
    """One write through a subgraph of any service (``audit.recorded``): who made it, in what
    scope, where it landed, what it changed and when. Kept as recorded, never changed; the
    events it names are ids and types, not their data.

    Text columns have no length: what a caller's token claims is kept whole rather than refused."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_at", "at", "entry_id"),
        Index("ix_audit_entry_region_at", "region_code", "at"),
        Index("ix_audit_entry_actor_region_at", "actor_region_code", "at"),
        Index("ix_audit_entry_subject_at", "subject", "at"),
    )

    entry_id: uuid.UUID = Field(primary_key=True)
    at: datetime = Field(sa_type=DateTime(timezone=True))
    service: str
    operation: str
    subject: str
    roles: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))
    actor_region_code: str | None = None
    actor_municipality_id: str | None = None
    actor_organization_id: str | None = None
    region_code: str | None = None
    municipality_id: str | None = None
    organization_ids: list[str] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))
    events: list[dict[str, str]] = Field(default_factory=no_items, sa_column=Column(JSON, nullable=False))


metadata = AnalyticsModel.metadata
