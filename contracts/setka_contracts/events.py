"""Events of the events service: joint plans, activities, meetings, participation and regional
facts.

All go to ``setka.events``, keyed by the aggregate's id (the plan, the activity, the meeting, the
school).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from . import topics
from .base import EventData
from .documents import DocumentAttachedData


class ActivityType(StrEnum):
    """Kinds of мероприятие."""

    seminar = "seminar"
    webinar = "webinar"
    master_class = "master_class"
    internship_site = "internship_site"
    conference = "conference"
    pedagogical_marathon = "pedagogical_marathon"
    open_lesson = "open_lesson"
    consultation = "consultation"
    mutual_visit = "mutual_visit"
    methodological_association_meeting = "methodological_association_meeting"
    course = "course"


class LearningProcess(StrEnum):
    """обучение, взаимообучение, совместное обучение, совместное обсуждение, обмен опытом,
    исследование, проектирование, программирование."""

    training = "training"
    peer_learning = "peer_learning"
    co_learning = "co_learning"
    joint_discussion = "joint_discussion"
    experience_exchange = "experience_exchange"
    research = "research"
    design = "design"
    programming = "programming"


class ActivityFormat(StrEnum):
    in_person = "in_person"
    remote = "remote"
    blended = "blended"


class ActivityStatus(StrEnum):
    planned = "planned"
    announced = "announced"
    held = "held"
    reported = "reported"
    cancelled = "cancelled"
    postponed = "postponed"


class PlanStatus(StrEnum):
    draft = "draft"
    agreed = "agreed"
    in_progress = "in_progress"
    closed = "closed"


class PlanPeriod(StrEnum):
    """What a plan's ``year`` covers, as its network chooses: the calendar year (January to
    December) or the school year (учебный год: 1 September of ``year`` to 31 August of the next)."""

    calendar_year = "calendar_year"
    school_year = "school_year"


class PlanItemKind(StrEnum):
    """An item carried out by activities of the calendar (мероприятие), or a task its responsible
    organization carries out and marks done («заключить договоры», «подготовить аналитическую
    справку»)."""

    activity = "activity"
    task = "task"


class ProposalStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"


class _EventsEvent(EventData):
    topic: ClassVar[str] = topics.EVENTS


class PlanDrafted(_EventsEvent):
    """A network's joint plan of activities (совместный план деятельности) was started."""

    event_type = "setka.events.plan.drafted.v1"
    key_field = "plan_id"

    plan_id: uuid.UUID
    network_id: uuid.UUID
    year: int
    title: str
    period: PlanPeriod = Field(
        default=PlanPeriod.calendar_year, description="Whether `year` is a calendar or a school year"
    )


class PlanItemAdded(_EventsEvent):
    """An item became part of a plan: added to the draft, or a member's proposal accepted."""

    event_type = "setka.events.plan.item_added.v1"
    key_field = "plan_id"

    plan_id: uuid.UUID
    item_id: uuid.UUID
    title: str
    due_on: date
    responsible_organization_id: uuid.UUID | None = None
    responsible_person: str | None = None
    expected_result: str | None = None
    kind: PlanItemKind = PlanItemKind.activity
    interaction_group_id: uuid.UUID | None = Field(
        default=None, description="The registry's interaction group that carries it out, if one does"
    )
    version: int = Field(default=1, description="The plan's version the item entered")
    proposal_id: uuid.UUID | None = Field(default=None, description="The accepted proposal it came from")
    decision_id: uuid.UUID | None = Field(
        default=None, description="The meeting's decision it carries out, if it came from one"
    )


class PlanProposalMade(_EventsEvent):
    """A member of the network (a centre, a partner, a supported school) proposed an item of the
    joint plan for itself; the network's coordinator accepts or declines it."""

    event_type = "setka.events.plan.proposal_made.v1"
    key_field = "plan_id"

    plan_id: uuid.UUID
    proposal_id: uuid.UUID
    organization_id: uuid.UUID = Field(description="The proposing member, responsible for the item")
    title: str
    kind: PlanItemKind
    due_on: date
    responsible_person: str | None = None
    expected_result: str | None = None
    interaction_group_id: uuid.UUID | None = None
    proposed_at: datetime
    decision_id: uuid.UUID | None = Field(
        default=None, description="The meeting's decision it carries out, if it came from one"
    )


class PlanProposalAccepted(_EventsEvent):
    """A proposal was accepted: it is now the item ``item_id`` (whose item_added follows)."""

    event_type = "setka.events.plan.proposal_accepted.v1"
    key_field = "plan_id"

    plan_id: uuid.UUID
    proposal_id: uuid.UUID
    item_id: uuid.UUID
    decided_at: datetime
    reason: str | None = None


class PlanProposalDeclined(_EventsEvent):
    event_type = "setka.events.plan.proposal_declined.v1"
    key_field = "plan_id"

    plan_id: uuid.UUID
    proposal_id: uuid.UUID
    decided_at: datetime
    reason: str


class PlanItemState(BaseModel):
    """An item's whole state after an amendment: a part of plan.amended, not an event of its own."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    item_id: uuid.UUID
    title: str
    kind: PlanItemKind
    due_on: date
    responsible_organization_id: uuid.UUID | None = None
    responsible_person: str | None = None
    expected_result: str | None = None
    interaction_group_id: uuid.UUID | None = None


class PlanAmended(_EventsEvent):
    """An agreed plan was amended (изменения в план): its new version, who amended it, when and
    why, the items changed (each in its whole new state) and the items withdrawn."""

    event_type = "setka.events.plan.amended.v1"
    key_field = "plan_id"

    plan_id: uuid.UUID
    version: int
    amended_at: datetime
    author: str = Field(description="The subject of the coordinator who amended it")
    reason: str
    changed_items: list[PlanItemState] = Field(default_factory=list)
    withdrawn_item_ids: list[uuid.UUID] = Field(default_factory=list)


class PlanItemDone(_EventsEvent):
    """A task of a plan was marked done by its responsible organization or a coordinator, with a
    note or a document."""

    event_type = "setka.events.plan.item_done.v1"
    key_field = "plan_id"

    plan_id: uuid.UUID
    item_id: uuid.UUID
    organization_id: uuid.UUID | None = Field(default=None, description="The responsible organization")
    done_at: datetime
    note: str | None = None
    document_url: str | None = None


class _PlanTransition(_EventsEvent):
    key_field = "plan_id"

    plan_id: uuid.UUID
    changed_at: datetime


class PlanAgreed(_PlanTransition):
    event_type = "setka.events.plan.agreed.v1"


class PlanStarted(_PlanTransition):
    event_type = "setka.events.plan.started.v1"


class PlanClosed(_PlanTransition):
    event_type = "setka.events.plan.closed.v1"


class MeetingKind(StrEnum):
    """Whose meeting (заседание) it is: the network's council (совет сети), a methodological
    association (методическое объединение, РМО), or another body of the network."""

    council = "council"
    methodological_association = "methodological_association"
    other = "other"


class MeetingStatus(StrEnum):
    scheduled = "scheduled"
    held = "held"
    cancelled = "cancelled"


class MeetingParticipantState(BaseModel):
    """One participant of a meeting: an organization, or one of its educators (by id only)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    organization_id: uuid.UUID
    educator_id: uuid.UUID | None = None


class MeetingScheduled(_EventsEvent):
    """A meeting of a network's council or methodological association was scheduled."""

    event_type = "setka.events.meeting.scheduled.v1"
    key_field = "meeting_id"

    meeting_id: uuid.UUID
    network_id: uuid.UUID
    kind: MeetingKind
    title: str
    starts_at: datetime
    ends_at: datetime | None = None
    place: str | None = Field(default=None, description="Where it meets (an address, a room)")
    online_link: str | None = Field(default=None, description="The link of an online meeting")
    interaction_group_id: uuid.UUID | None = Field(
        default=None, description="The registry's interaction group (РМО) whose meeting it is"
    )
    agenda: list[str] = Field(default_factory=list, description="The agenda's items, in order")
    participants: list[MeetingParticipantState] = Field(default_factory=list)


class MeetingChanged(MeetingScheduled):
    """A scheduled meeting was changed: its whole new state."""

    event_type = "setka.events.meeting.changed.v1"


class MeetingHeld(_EventsEvent):
    """A meeting took place; its minutes (протокол) were recorded."""

    event_type = "setka.events.meeting.held.v1"
    key_field = "meeting_id"

    meeting_id: uuid.UUID
    held_at: datetime
    minutes: str


class MeetingCancelled(_EventsEvent):
    event_type = "setka.events.meeting.cancelled.v1"
    key_field = "meeting_id"

    meeting_id: uuid.UUID
    cancelled_at: datetime
    reason: str


class MeetingDecisionMade(_EventsEvent):
    """A held meeting's decision (решение) was recorded: what, who answers for it, by when."""

    event_type = "setka.events.meeting.decision_made.v1"
    key_field = "meeting_id"

    meeting_id: uuid.UUID
    decision_id: uuid.UUID
    number: int = Field(description="Its number among the meeting's decisions, from 1")
    text: str
    responsible_organization_id: uuid.UUID
    due_on: date


class MeetingDecisionPlanned(_EventsEvent):
    """A decision was carried into its network's joint plan: an item of a draft plan (its
    item_added precedes), or a proposal to an agreed one (its proposal_made precedes) that the
    coordinator accepts or declines as any other."""

    event_type = "setka.events.meeting.decision_planned.v1"
    key_field = "meeting_id"

    meeting_id: uuid.UUID
    decision_id: uuid.UUID
    plan_id: uuid.UUID
    item_id: uuid.UUID | None = Field(default=None, description="The item it became (a draft plan)")
    proposal_id: uuid.UUID | None = Field(default=None, description="The proposal it became (an agreed plan)")


class ActivityPlanned(_EventsEvent):
    """An activity (мероприятие) was put in the calendar, or recorded by a regional system."""

    event_type = "setka.events.activity.planned.v1"
    key_field = "activity_id"

    activity_id: uuid.UUID
    title: str
    activity_type: ActivityType
    processes: list[LearningProcess] = Field(default_factory=list)
    format: ActivityFormat
    host_organization_id: uuid.UUID
    network_id: uuid.UUID | None = None
    plan_item_id: uuid.UUID | None = None
    responsible_educator_id: uuid.UUID | None = None
    starts_at: datetime
    ends_at: datetime
    audience: str | None = None
    capacity: int | None = None
    status: ActivityStatus = ActivityStatus.planned
    source_system: str | None = Field(default=None, description="The regional system that recorded it")
    external_id: str | None = None


class ActivityUpdatedByRegion(ActivityPlanned):
    """A regional system sent a newer version of an activity it had recorded."""

    event_type = "setka.events.activity.updated.v1"


class _ActivityTransition(_EventsEvent):
    key_field = "activity_id"

    activity_id: uuid.UUID
    changed_at: datetime


class ActivityAnnounced(_ActivityTransition):
    event_type = "setka.events.activity.announced.v1"


class ActivityHeld(_ActivityTransition):
    event_type = "setka.events.activity.held.v1"


class ActivityReported(_ActivityTransition):
    event_type = "setka.events.activity.reported.v1"

    report: str | None = None


class ActivityCancelled(_ActivityTransition):
    event_type = "setka.events.activity.cancelled.v1"

    reason: str


class ActivityPostponed(_ActivityTransition):
    event_type = "setka.events.activity.postponed.v1"

    reason: str
    starts_at: datetime | None = Field(default=None, description="The new start, if already known")
    ends_at: datetime | None = None


class MaterialAdded(_EventsEvent):
    event_type = "setka.events.activity.material_added.v1"
    key_field = "activity_id"

    activity_id: uuid.UUID
    material_id: uuid.UUID
    title: str
    url: str


class EventsDocumentAttached(DocumentAttachedData):
    """A file was attached to an activity (its materials: owner_kind activity)."""

    event_type = "setka.events.document.attached.v1"
    topic: ClassVar[str] = topics.EVENTS


class ParticipantRegistered(_EventsEvent):
    event_type = "setka.events.activity.participant_registered.v1"
    key_field = "activity_id"

    activity_id: uuid.UUID
    registration_id: uuid.UUID
    organization_id: uuid.UUID
    educator_id: uuid.UUID | None = None


class AttendanceRecorded(_EventsEvent):
    """Someone took part in an activity: an educator, or an organization as a whole."""

    event_type = "setka.events.activity.attendance_recorded.v1"
    key_field = "activity_id"

    activity_id: uuid.UUID
    attendance_id: uuid.UUID
    organization_id: uuid.UUID
    educator_id: uuid.UUID | None = None
    hours: float
    source_system: str | None = None


class FeedbackGiven(_EventsEvent):
    event_type = "setka.events.activity.feedback_given.v1"
    key_field = "activity_id"

    activity_id: uuid.UUID
    feedback_id: uuid.UUID
    rating: int = Field(ge=1, le=5)
    comment: str | None = None
    organization_id: uuid.UUID | None = None


class MobilityRecorded(_EventsEvent):
    """Students or teachers of one organization worked at a partner's premises (мобильность)."""

    event_type = "setka.events.mobility.recorded.v1"
    key_field = "mobility_id"

    mobility_id: uuid.UUID
    kind: str = Field(description="students or teachers")
    home_organization_id: uuid.UUID
    host_organization_id: uuid.UUID
    network_id: uuid.UUID | None = None
    programme: str
    participants: int
    starts_on: date
    ends_on: date
    hours: float
    version: int = Field(default=1, description="The record's version: 1 when recorded")


class MobilityCorrected(MobilityRecorded):
    """A recorded mobility was corrected (its counts, hours, dates, programme); the data is the
    whole new state. A copy keeps the highest ``version`` it has seen."""

    event_type = "setka.events.mobility.corrected.v1"

    corrected_at: datetime
    reason: str | None = Field(default=None, description="Why it was corrected")
    changed: list[str] = Field(default_factory=list, description="The fields that changed")


class MobilityDeleted(MobilityRecorded):
    """A mobility was recorded by mistake and deleted: its figures no longer count. The data is
    what was deleted, at its new ``version``."""

    event_type = "setka.events.mobility.deleted.v1"

    deleted_at: datetime
    reason: str


class AssessmentResultRecorded(_EventsEvent):
    """A school's results in ВПР, ОГЭ, ЕГЭ or a regional diagnostic, for one subject and grade."""

    event_type = "setka.events.assessment.recorded.v1"
    key_field = "organization_id"

    result_id: uuid.UUID
    organization_id: uuid.UUID
    procedure: str
    subject: str
    grade: int
    year: int
    participants: int
    mean_score: float
    mark_shares: dict[str, float]
    source_system: str


class TrainingRecorded(_EventsEvent):
    """An educator completed professional training (курсы повышения квалификации)."""

    event_type = "setka.events.training.recorded.v1"
    key_field = "organization_id"

    training_id: uuid.UUID
    educator_id: uuid.UUID
    organization_id: uuid.UUID
    course: str
    provider: str
    hours: int
    completed_on: date
    source_system: str


class DeficitRecorded(_EventsEvent):
    """A professional deficit of an educator was diagnosed."""

    event_type = "setka.events.deficit.recorded.v1"
    key_field = "organization_id"

    deficit_id: uuid.UUID
    educator_id: uuid.UUID
    organization_id: uuid.UUID
    competency: str
    level: str
    diagnosed_on: date
    source_system: str


OUTBOUND_TYPES: tuple[type[EventData], ...] = (
    PlanDrafted,
    PlanItemAdded,
    PlanAgreed,
    PlanStarted,
    PlanClosed,
    PlanProposalMade,
    PlanProposalAccepted,
    PlanProposalDeclined,
    PlanAmended,
    PlanItemDone,
    MeetingScheduled,
    MeetingChanged,
    MeetingHeld,
    MeetingCancelled,
    MeetingDecisionMade,
    MeetingDecisionPlanned,
    ActivityPlanned,
    ActivityUpdatedByRegion,
    ActivityAnnounced,
    ActivityHeld,
    ActivityReported,
    ActivityCancelled,
    ActivityPostponed,
    MaterialAdded,
    EventsDocumentAttached,
    ParticipantRegistered,
    AttendanceRecorded,
    FeedbackGiven,
    MobilityRecorded,
    MobilityCorrected,
    MobilityDeleted,
    AssessmentResultRecorded,
    TrainingRecorded,
    DeficitRecorded,
)
