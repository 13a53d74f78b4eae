"""The events service's tables. ``known_*`` tables are its local copy of the registry."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from setka_runtime.documents import DocumentFields
from setka_runtime.tables import no_entries, no_items
from sqlalchemy import JSON, DateTime, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel


class EventsModel(SQLModel, registry=registry()):
    """Base of the events service's tables; their metadata is its alone."""


def now() -> datetime:
    return datetime.now(UTC)


def _when(**extra: Any) -> Any:
    return Field(sa_type=DateTime(timezone=True), **extra)


# --- the local copy of the registry -------------------------------------------------------------


class KnownOrganization(EventsModel, table=True):
    """An organization as the registry announced it, so rules can be checked locally."""

    __tablename__ = "known_organization"

    id: uuid.UUID = Field(primary_key=True)
    short_name: str = Field(max_length=200)
    kind: str = Field(max_length=40)
    region_code: str = Field(max_length=3)
    inn: str | None = Field(default=None, max_length=10, index=True)
    updated_at: datetime = _when()
    municipality: str | None = Field(default=None, max_length=200)
    archived_at: datetime | None = _when(default=None)
    municipality_id: uuid.UUID | None = Field(
        default=None, index=True, description="Its municipality's id: a municipal coordinator's scope"
    )
    email: str | None = Field(default=None, max_length=200, description="Its official address (notices)")
    ogrn: str | None = Field(default=None, max_length=13, index=True)
    school_code: str | None = Field(
        default=None, max_length=40, index=True, description="Its code in the federal assessment system"
    )


class KnownNetwork(EventsModel, table=True):
    """A network (сеть) as the registry announced it."""

    __tablename__ = "known_network"

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=500)
    level: str = Field(max_length=40)
    region_code: str | None = Field(default=None, max_length=3)
    started_on: date | None = None
    ended_on: date | None = None
    updated_at: datetime = _when()
    municipality_id: uuid.UUID | None = Field(
        default=None, index=True, description="Its municipality, if it is one municipality's network"
    )
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    """The registry's version of the network: a correction applies only over an older one."""
    coordinator_id: uuid.UUID | None = None
    """The organization that coordinates it: told of alerts about its schools."""


class KnownMembership(EventsModel, table=True):
    """An organization's membership (участие) in a network, with its dates."""

    __tablename__ = "known_membership"

    id: uuid.UUID = Field(primary_key=True)
    network_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID = Field(index=True)
    role: str = Field(max_length=40)
    joined_on: date
    left_on: date | None = Field(default=None, description="The first day no longer a member")
    updated_at: datetime = _when()


class KnownEducator(EventsModel, table=True):
    """An educator: only the id and the subjects, no personal data."""

    __tablename__ = "known_educator"

    id: uuid.UUID = Field(primary_key=True)
    subjects: list[str] = Field(default_factory=no_items, sa_type=JSON)
    updated_at: datetime = _when()
    snils_hash: str | None = Field(
        default=None, max_length=64, index=True, description="HMAC-SHA256 of the СНИЛС: never the number"
    )


class KnownInteractionGroup(EventsModel, table=True):
    """An interaction group (группа взаимодействия, РМО) the registry formed, and its network: what
    a plan item carried out by a group is checked against. Its name and members stay the
    registry's (the federated ``InteractionGroup``)."""

    __tablename__ = "known_interaction_group"

    id: uuid.UUID = Field(primary_key=True)
    network_id: uuid.UUID = Field(index=True)
    updated_at: datetime = _when()


class KnownEmployment(EventsModel, table=True):
    """Where an educator works; ``ended_on`` is the first day no longer employed."""

    __tablename__ = "known_employment"

    id: uuid.UUID = Field(primary_key=True)
    educator_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID = Field(index=True)
    started_on: date | None = None
    ended_on: date | None = None


# --- plans ----------------------------------------------------------------------------------------


class Plan(EventsModel, table=True):
    """A network's joint plan of activities for a year (совместный план деятельности): a calendar
    or a school year, as ``period`` says. Agreed, it is amended in numbered versions."""

    __table_args__ = (UniqueConstraint("network_id", "year", name="uq_plan_network_year"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    network_id: uuid.UUID = Field(index=True)
    year: int
    title: str = Field(max_length=500)
    status: str = Field(default="draft", max_length=20)
    created_at: datetime = _when(default_factory=now)
    updated_at: datetime = _when(default_factory=now)
    period: str = Field(
        default="calendar_year", max_length=20, description="calendar_year or school_year (September–August)"
    )
    version: int = Field(default=1, description="The current version: 1 as agreed, one more per amendment")


class PlanItem(EventsModel, table=True):
    """An item of a plan as it stands now (its earlier states: :class:`PlanItemRevision`)."""

    __tablename__ = "plan_item"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="plan.id", index=True)
    title: str = Field(max_length=500)
    due_on: date
    responsible_organization_id: uuid.UUID | None = None
    responsible_person: str | None = Field(default=None, max_length=200)
    expected_result: str | None = Field(default=None, max_length=1000)
    created_at: datetime = _when(default_factory=now)
    kind: str = Field(default="activity", max_length=20, description="activity or task")
    interaction_group_id: uuid.UUID | None = Field(
        default=None, description="The registry's interaction group that carries it out"
    )
    proposal_id: uuid.UUID | None = Field(default=None, description="The accepted proposal it came from")
    decision_id: uuid.UUID | None = Field(
        default=None, index=True, description="The meeting's decision it carries out"
    )
    withdrawn_at: datetime | None = _when(default=None, description="When an amendment withdrew it")
    done_at: datetime | None = _when(default=None, description="When the task was marked done")
    done_note: str | None = Field(default=None, max_length=2000)
    done_document_url: str | None = Field(default=None, max_length=1000)
    done_by: str | None = Field(default=None, max_length=200)
    """Who marked it done (a subject): kept for the record, not shown."""


class PlanItemRevision(EventsModel, table=True):
    """An item's state from a version of its plan on: written when the item enters the plan and
    at each amendment that changes or withdraws it. Version ``v`` of a plan holds, of each item,
    its latest revision up to ``v`` (unless that one withdrew it)."""

    __tablename__ = "plan_item_revision"

    item_id: uuid.UUID = Field(foreign_key="plan_item.id", primary_key=True)
    version: int = Field(primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="plan.id", index=True)
    title: str = Field(max_length=500)
    kind: str = Field(max_length=20)
    due_on: date
    responsible_organization_id: uuid.UUID | None = None
    responsible_person: str | None = Field(default=None, max_length=200)
    expected_result: str | None = Field(default=None, max_length=1000)
    interaction_group_id: uuid.UUID | None = None
    withdrawn: bool = False


class PlanAmendment(EventsModel, table=True):
    """An amendment of an agreed plan (изменение плана): the version it made, by whom, when, why."""

    __tablename__ = "plan_amendment"
    __table_args__ = (UniqueConstraint("plan_id", "version", name="uq_plan_amendment_version"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="plan.id", index=True)
    version: int
    author: str = Field(max_length=200)
    reason: str = Field(max_length=2000)
    amended_at: datetime = _when(default_factory=now)


class PlanProposal(EventsModel, table=True):
    """An item a member of the network proposed for itself (предложение в совместный план),
    pending until the network's coordinator accepts it (it becomes ``item_id``) or declines it."""

    __tablename__ = "plan_proposal"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    plan_id: uuid.UUID = Field(foreign_key="plan.id", index=True)
    organization_id: uuid.UUID = Field(index=True)
    title: str = Field(max_length=500)
    kind: str = Field(default="activity", max_length=20)
    due_on: date
    responsible_person: str | None = Field(default=None, max_length=200)
    expected_result: str | None = Field(default=None, max_length=1000)
    interaction_group_id: uuid.UUID | None = None
    status: str = Field(default="pending", max_length=20)
    proposed_by: str = Field(max_length=200)
    proposed_at: datetime = _when(default_factory=now)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = _when(default=None)
    decision_reason: str | None = Field(default=None, max_length=2000)
    item_id: uuid.UUID | None = Field(default=None, foreign_key="plan_item.id")
    decision_id: uuid.UUID | None = Field(
        default=None, index=True, description="The meeting's decision it carries out"
    )


# --- meetings -------------------------------------------------------------------------------------


class Meeting(EventsModel, table=True):
    """A meeting (заседание) of a network's council (совет сети), of a methodological association
    (методическое объединение) or of another of its bodies: scheduled → held (with its minutes)
    or cancelled. Its agenda is the ordered list of its items; its participants and decisions are
    rows of their own. The minutes are text: documents attached to a meeting belong in a table of
    their own that refers to it."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    network_id: uuid.UUID = Field(index=True)
    kind: str = Field(max_length=40)
    title: str = Field(max_length=500)
    starts_at: datetime = _when(index=True)
    ends_at: datetime | None = _when(default=None)
    place: str | None = Field(default=None, max_length=500)
    online_link: str | None = Field(default=None, max_length=1000)
    interaction_group_id: uuid.UUID | None = Field(
        default=None, description="The registry's interaction group (РМО) whose meeting it is"
    )
    agenda: list[str] = Field(default_factory=no_items, sa_type=JSON)
    status: str = Field(default="scheduled", max_length=20, index=True)
    status_reason: str | None = Field(default=None, max_length=1000)
    minutes: str | None = Field(default=None, description="The minutes (протокол) as text")
    held_at: datetime | None = _when(default=None)
    created_at: datetime = _when(default_factory=now)
    updated_at: datetime = _when(default_factory=now)


class MeetingParticipant(EventsModel, table=True):
    """Who takes part in a meeting: an organization as a whole, or one of its educators."""

    __tablename__ = "meeting_participant"
    __table_args__ = (UniqueConstraint("meeting_id", "participant", name="uq_meeting_participant"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    organization_id: uuid.UUID = Field(index=True)
    educator_id: uuid.UUID | None = None
    participant: str = Field(max_length=80)
    position: int = Field(description="The order it was listed in")


class MeetingDecision(EventsModel, table=True):
    """A decision (решение) of a held meeting: what is to be done, by whom, by when. It may be
    carried into the network's plan (the item or proposal refers to it by ``decision_id``)."""

    __tablename__ = "meeting_decision"
    __table_args__ = (UniqueConstraint("meeting_id", "number", name="uq_meeting_decision_number"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    meeting_id: uuid.UUID = Field(foreign_key="meeting.id", index=True)
    number: int
    text: str = Field(max_length=2000)
    responsible_organization_id: uuid.UUID = Field(index=True)
    due_on: date = Field(index=True)
    created_at: datetime = _when(default_factory=now)


# --- activities -----------------------------------------------------------------------------------


class Activity(EventsModel, table=True):
    """An activity (мероприятие) of a network, or one a regional system recorded."""

    __table_args__ = (UniqueConstraint("source_system", "external_id", name="uq_activity_source"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    title: str = Field(max_length=500)
    activity_type: str = Field(max_length=40, index=True)
    processes: list[str] = Field(default_factory=no_items, sa_type=JSON)
    format: str = Field(max_length=20)
    location: str | None = Field(default=None, max_length=500)
    host_organization_id: uuid.UUID = Field(index=True)
    network_id: uuid.UUID | None = Field(default=None, index=True)
    plan_item_id: uuid.UUID | None = Field(default=None, foreign_key="plan_item.id", index=True)
    responsible_educator_id: uuid.UUID | None = None
    starts_at: datetime = _when(index=True)
    ends_at: datetime = _when()
    audience: str | None = Field(default=None, max_length=500)
    capacity: int | None = None
    status: str = Field(default="planned", max_length=20, index=True)
    status_reason: str | None = Field(default=None, max_length=1000)
    report: str | None = None
    source_system: str | None = Field(default=None, max_length=100)
    external_id: str | None = Field(default=None, max_length=200)
    source_updated_at: datetime | None = _when(default=None)
    created_at: datetime = _when(default_factory=now)
    updated_at: datetime = _when(default_factory=now)


class Material(EventsModel, table=True):
    """A material of an activity: a link to slides, a recording, a methodological guide."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    activity_id: uuid.UUID = Field(foreign_key="activity.id", index=True)
    title: str = Field(max_length=500)
    url: str = Field(max_length=1000)
    created_at: datetime = _when(default_factory=now)


# --- participation --------------------------------------------------------------------------------


def participant_key(organization_id: uuid.UUID, educator_id: uuid.UUID | None) -> str:
    """One participant of an activity: an educator, or an organization as a whole."""
    return f"{organization_id}:{educator_id or '-'}"


class Registration(EventsModel, table=True):
    __table_args__ = (UniqueConstraint("activity_id", "participant", name="uq_registration_participant"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    activity_id: uuid.UUID = Field(foreign_key="activity.id", index=True)
    organization_id: uuid.UUID = Field(index=True)
    educator_id: uuid.UUID | None = Field(default=None, index=True)
    participant: str = Field(max_length=80)
    created_at: datetime = _when(default_factory=now)


class Attendance(EventsModel, table=True):
    __table_args__ = (UniqueConstraint("activity_id", "participant", name="uq_attendance_participant"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    activity_id: uuid.UUID = Field(foreign_key="activity.id", index=True)
    organization_id: uuid.UUID = Field(index=True)
    educator_id: uuid.UUID | None = Field(default=None, index=True)
    participant: str = Field(max_length=80)
    hours: float
    source_system: str | None = Field(default=None, max_length=100)
    source_version: datetime | None = _when(default=None)
    """The sending system's version of the fact: an older one never replaces it."""
    recorded_at: datetime = _when(default_factory=now)


class Feedback(EventsModel, table=True):
    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    activity_id: uuid.UUID = Field(foreign_key="activity.id", index=True)
    rating: int
    comment: str | None = Field(default=None, max_length=2000)
    organization_id: uuid.UUID | None = None
    created_at: datetime = _when(default_factory=now)


class Mobility(EventsModel, table=True):
    """Students or teachers of one organization working at a partner's premises."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(max_length=20)
    home_organization_id: uuid.UUID = Field(index=True)
    host_organization_id: uuid.UUID = Field(index=True)
    network_id: uuid.UUID | None = Field(default=None, index=True)
    programme: str = Field(max_length=500)
    participants: int
    starts_on: date
    ends_on: date
    hours: float
    created_at: datetime = _when(default_factory=now)
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    """1 when recorded, one more with each correction and with its deletion."""
    updated_at: datetime | None = _when(default=None)
    deleted_at: datetime | None = _when(default=None)
    """Set when it was deleted as a mistake: it no longer counts, nor is it listed."""
    change_reason: str | None = Field(default=None, max_length=1000)
    """Why it was last corrected or deleted."""


# --- facts from regional systems ------------------------------------------------------------------


class AssessmentResult(EventsModel, table=True):
    """A school's results in one assessment procedure, subject, grade and year."""

    __tablename__ = "assessment_result"
    __table_args__ = (
        UniqueConstraint(
            "organization_id", "procedure", "subject", "grade", "year", name="uq_assessment_result"
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    organization_id: uuid.UUID = Field(index=True)
    procedure: str = Field(max_length=30)
    subject: str = Field(max_length=100)
    grade: int
    year: int
    participants: int
    mean_score: float
    mark_shares: dict[str, float] = Field(default_factory=no_entries, sa_type=JSON)
    source_system: str = Field(max_length=100)
    external_id: str = Field(max_length=200)
    source_version: datetime | None = _when(default=None)
    """The sending system's version of the fact: an older one never replaces it."""
    recorded_at: datetime = _when(default_factory=now)


class Training(EventsModel, table=True):
    """Completed professional training of an educator."""

    __table_args__ = (UniqueConstraint("source_system", "external_id", name="uq_training_source"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    educator_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID = Field(index=True)
    course: str = Field(max_length=500)
    provider: str = Field(max_length=300)
    hours: int
    completed_on: date
    source_system: str = Field(max_length=100)
    external_id: str = Field(max_length=200)
    source_version: datetime | None = _when(default=None)
    """The sending system's version of the fact: an older one never replaces it."""
    recorded_at: datetime = _when(default_factory=now)


class Deficit(EventsModel, table=True):
    """A diagnosed professional deficit of an educator."""

    __table_args__ = (UniqueConstraint("source_system", "external_id", name="uq_deficit_source"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    educator_id: uuid.UUID = Field(index=True)
    organization_id: uuid.UUID = Field(index=True)
    competency: str = Field(max_length=300)
    level: str = Field(max_length=20)
    diagnosed_on: date
    source_system: str = Field(max_length=100)
    external_id: str = Field(max_length=200)
    source_version: datetime | None = _when(default=None)
    """The sending system's version of the fact: an older one never replaces it."""
    recorded_at: datetime = _when(default_factory=now)


class DemoLoad(EventsModel, table=True):
    """Marks that the demo year was loaded, so it is loaded once."""

    __tablename__ = "demo_load"

    name: str = Field(primary_key=True, max_length=50)
    loaded_at: datetime = _when(default_factory=now)


metadata = EventsModel.metadata


# --- facts received over HTTP -------------------------------------------------------------------


class AcceptedFact(EventsModel, table=True):
    """A regional fact that did not come from Kafka (``POST /facts``, an import, a mutation), kept
    before the sender is told it was accepted and applied from here in the order received, by the
    same consumer as the facts of its Kafka topic (its outcome written back). A broker that loses
    what it held in memory cannot lose these."""

    __tablename__ = "accepted_fact"
    __table_args__ = (UniqueConstraint("source", "event_id", name="uq_accepted_fact_event"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=200)
    event_id: str = Field(max_length=200)
    topic: str = Field(max_length=200, description="The inbound topic whose consumer applies it")
    key: str | None = Field(default=None, max_length=200)
    headers: dict[str, str] = Field(sa_type=JSON, description="Its CloudEvents attributes as Kafka headers")
    body: bytes
    sender: str | None = Field(default=None, max_length=200, description="Who sent it (the token's subject)")
    received_at: datetime = _when(default_factory=now)
    applied_at: datetime | None = _when(default=None, index=True)
    outcome: str | None = Field(
        default=None, max_length=20, description="What its consumer did with it (processed, duplicate, …)"
    )
    reason: str | None = Field(
        default=None, max_length=2000, description="The consumer's reason, if not applied"
    )


# --- what this service's consumers gave up on ------------------------------------------------------


class DeadLetter(EventsModel, table=True):
    """A message a consumer of this service sent to its topic's dead-letter topic: which topic,
    why, which event and whose region, so a regional admin can see what their systems send that is
    refused without anyone reading the broker. The message itself is not kept: it may hold
    personal data (the dead-letter topic has it for an operator)."""

    __tablename__ = "dead_letter"
    __table_args__ = (Index("ix_dead_letter_region_at", "region_code", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=200, description="The topic it came from, e.g. regional.assessments")
    reason: str = Field(max_length=2000)
    reason_kind: str = Field(max_length=120, description="The reason without its particulars")
    ce_source: str | None = Field(default=None, max_length=200)
    ce_type: str | None = Field(default=None, max_length=200)
    ce_id: str | None = Field(default=None, max_length=200)
    region_code: str | None = Field(
        default=None, max_length=3, description="The region of the organization it names; none: unknown"
    )
    at: datetime = _when(default_factory=now)


class Document(DocumentFields, EventsModel, table=True):
    """A file attached to an activity (its materials) (its bytes are in the document store,
    :mod:`setka_runtime.documents`)."""


# --- who may send regional facts, and the identities they use ---------------------------------------


class RegisteredSource(EventsModel, table=True):
    """A regional system registered to send facts (зарегистрированный источник): its CloudEvents
    ``source``, the region whose admin manages it, and (in :class:`SourceGrant`) what it may send."""

    __tablename__ = "registered_source"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    ce_source: str = Field(max_length=200, unique=True, description="Its ce_source, e.g. /regional/rcoi-39")
    region_code: str = Field(max_length=3, index=True, description="The region whose admin manages it")
    title: str = Field(max_length=300, description="What system it is, for people")
    created_at: datetime = _when(default_factory=now)
    updated_at: datetime = _when(default_factory=now)


class SourceGrant(EventsModel, table=True):
    """One thing a registered source may do: use a ``source_system`` name, publish to a topic,
    write about a region or about one organization (kind and value)."""

    __tablename__ = "source_grant"

    source_id: uuid.UUID = Field(foreign_key="registered_source.id", primary_key=True, ondelete="CASCADE")
    kind: str = Field(
        max_length=20, primary_key=True, description="source_system, topic, region or organization"
    )
    value: str = Field(max_length=200, primary_key=True)
    granted_at: datetime = _when(default_factory=now)


class SourceCredential(EventsModel, table=True):
    """A bearer token issued to a registered source for ``POST /facts``: only its SHA-256 is kept
    (the token is shown once, when issued). It authenticates that source and nothing else, until
    it is revoked."""

    __tablename__ = "source_credential"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    source_id: uuid.UUID = Field(foreign_key="registered_source.id", index=True, ondelete="CASCADE")
    digest: str = Field(max_length=64, unique=True, description="SHA-256 (hex) of the token")
    issued_at: datetime = _when(default_factory=now)
    issued_by: str = Field(max_length=200, description="Who issued it: a person's subject or operator:…")
    revoked_at: datetime | None = _when(default=None)
    revoked_by: str | None = Field(default=None, max_length=200)


class IdentityMapping(EventsModel, table=True):
    """A sending system's own id of an organization or an educator, and Setka's id it stands for,
    learned from an import. ``kind`` ``educator_snils`` keys an educator by the keyed hash of the
    СНИЛС (``source_system`` empty: a СНИЛС is the same in every system)."""

    __tablename__ = "identity_mapping"

    kind: str = Field(max_length=20, primary_key=True, description="organization, educator or educator_snils")
    source_system: str = Field(max_length=100, primary_key=True)
    external_id: str = Field(max_length=200, primary_key=True)
    setka_id: uuid.UUID = Field(index=True)
    learned_at: datetime = _when(default_factory=now)
