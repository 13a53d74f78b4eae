"""Mutations of the events subgraph: the whole lifecycle of plans and activities.

Each returns its entity or a :class:`ValidationError` naming the input at fault; a refused
mutation changes nothing (its transaction is rolled back). Each is one ``run_command`` call, with
the roles that may make it (declared as ``@requiresScopes`` too) and the scope it lands in (see
:mod:`services.events.scopes`): a network's plans are its editors' (they decide on proposals and
amend agreed plans); a member's proposal is also its representative's, and a task is also its
responsible organization's to mark done; an activity is its host's and the editors' of the host's
municipality and region; a participant's part in it is the participating organization's; mobility
is the editors' of the organizations involved; a network's meetings and their decisions are its
editors' (they schedule them, record the minutes and the decisions, carry decisions into the plan).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import strawberry
from setka_contracts.events import PlanStatus
from setka_runtime.access import EDITORS, PARTICIPANTS, Role
from setka_runtime.documents import Document, attach_command, owner_enum
from setka_runtime.graphql import ValidationError, identity, require_id, run_command
from setka_runtime.graphql_derive import CommandInput
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from .. import activities, meetings, mobility, participation, plans, scopes
from .. import documents as events_documents
from .. import models as m
from .types import (
    Activity,
    AttendanceRecord,
    FeedbackRecord,
    Material,
    Meeting,
    MeetingDecision,
    MobilityRecord,
    Plan,
    PlanItem,
    PlanProposal,
    RegistrationRecord,
)

R = TypeVar("R")


def _scopes(roles: tuple[Role, ...]) -> list[list[str]]:
    """``@requiresScopes``: any one of the roles (scopes are role names)."""
    return [[role.value] for role in roles]


def editors(description: str) -> Any:
    """A mutation of the editors (regional admins, municipal coordinators), each in scope."""
    return strawberry.federation.mutation(description=description, requires_scopes=_scopes(EDITORS))


def participants(description: str) -> Any:
    """A mutation of the editors and of school representatives, each in scope."""
    return strawberry.federation.mutation(description=description, requires_scopes=_scopes(PARTICIPANTS))


PlanResult = Annotated[Plan | ValidationError, strawberry.union("PlanResult")]
PlanItemResult = Annotated[PlanItem | ValidationError, strawberry.union("PlanItemResult")]
PlanProposalResult = Annotated[PlanProposal | ValidationError, strawberry.union("PlanProposalResult")]
ActivityResult = Annotated[Activity | ValidationError, strawberry.union("ActivityResult")]
MaterialResult = Annotated[Material | ValidationError, strawberry.union("MaterialResult")]
RegistrationResult = Annotated[RegistrationRecord | ValidationError, strawberry.union("RegistrationResult")]
AttendanceResult = Annotated[AttendanceRecord | ValidationError, strawberry.union("AttendanceResult")]
FeedbackResult = Annotated[FeedbackRecord | ValidationError, strawberry.union("FeedbackResult")]
MobilityResult = Annotated[MobilityRecord | ValidationError, strawberry.union("MobilityResult")]
AttachEventsDocumentResult = Annotated[
    Document | ValidationError, strawberry.union("AttachEventsDocumentResult")
]

EventsDocumentOwner = owner_enum(
    "EventsDocumentOwner",
    events_documents.OWNERS,
    "What an events document is attached to: an activity or a meeting",
)


@strawberry.input(description="A file to attach; its type is read from its content")
class AttachEventsDocumentInput:
    owner_kind: EventsDocumentOwner  # type: ignore[valid-type]
    owner_id: strawberry.ID
    file_name: str = strawberry.field(description="The file's name; its extension must match its content")
    content_base64: str = strawberry.field(
        description="The file's bytes in base64: pdf, docx, xlsx, odt, ods, doc, xls, png, jpeg or UTF-8"
        " txt, at most DOCUMENTS_MAX_BYTES (20 MB) decoded"
    )
    title: str | None = strawberry.field(default=None, description="What it is («Программа семинара»)")


MeetingResult = Annotated[Meeting | ValidationError, strawberry.union("MeetingResult")]
MeetingDecisionResult = Annotated[
    MeetingDecision | ValidationError, strawberry.union("MeetingDecisionResult")
]


@strawberry.input
class PlanActivityInput(
    CommandInput,
    command=activities.PlanActivity,
    describe={"location": "Address, or the link of a remote one"},
):
    pass


ITEM_FIELDS = {
    "kind": "activity (carried out by activities of the calendar) or task (marked done by its"
    " responsible organization: a contract, an analytical note)",
    "interaction_group_id": "The registry's interaction group of the network that carries it out",
}


@strawberry.input
class AddPlanItemInput(CommandInput, command=plans.AddPlanItem, describe=ITEM_FIELDS):
    pass


@strawberry.input
class ProposePlanItemInput(
    CommandInput,
    command=plans.ProposePlanItem,
    describe={"organization_id": "The proposing member (responsible for the item)", **ITEM_FIELDS},
):
    pass


@strawberry.input(description="An item's whole new state: a field not given is cleared")
class ChangePlanItemInput(CommandInput, command=plans.ChangePlanItem, describe=ITEM_FIELDS):
    pass


@strawberry.input
class AmendPlanInput(
    CommandInput,
    command=plans.AmendPlan,
    describe={
        "reason": "Why the plan is amended (the decision, the circumstances)",
        "changes": "Items changed, each in its whole new state",
        "withdrawn_item_ids": "Items withdrawn from the plan",
    },
):
    pass


@strawberry.input(description="A participant of a meeting: an organization, or one of its educators")
class MeetingParticipantInput(
    CommandInput,
    command=meetings.Participant,
    describe={"educator_id": "An educator of the organization (personal data: shown only within scope)"},
):
    pass


MEETING_FIELDS = {
    "kind": "council (совет сети), methodological_association (методическое объединение) or other",
    "starts_at": "When it starts, with the time zone",
    "place": "Where it meets (an address, a room); a place or an online link is required",
    "online_link": "The link of an online meeting (https://…)",
    "agenda": "The agenda's items (повестка), in order; at least one",
    "participants": "Members of the network on its day, or their educators",
    "interaction_group_id": "The network's interaction group (РМО) whose meeting it is",
}


@strawberry.input
class ScheduleMeetingInput(CommandInput, command=meetings.ScheduleMeeting, describe=MEETING_FIELDS):
    pass


@strawberry.input(description="A scheduled meeting's whole new state: a field not given is cleared")
class ChangeMeetingInput(CommandInput, command=meetings.ChangeMeeting, describe=MEETING_FIELDS):
    pass


@strawberry.input
class RecordMeetingDecisionInput(
    CommandInput,
    command=meetings.RecordDecision,
    describe={
        "responsible_organization_id": "The member of the network that answers for it",
        "due_on": "By when it is to be done (not before the meeting)",
    },
):
    pass


@strawberry.input
class RecordMobilityInput(CommandInput, command=mobility.RecordMobility):
    pass


@strawberry.input(description="A correction of a recorded mobility: only the fields given change")
class CorrectMobilityInput(
    CommandInput,
    command=mobility.CorrectMobility,
    describe={"kind": "students or teachers", "reason": "Why it is corrected"},
):
    pass


def _subject(info: Info) -> str:
    """Who acts, as the records of a plan keep them (the audit trail keeps the rest)."""
    return identity(info).subject or ""


def _advance(info: Info, plan_id: strawberry.ID, to: PlanStatus) -> Awaitable[Any]:
    """A plan's next step, by the editors of its network."""
    return run_command(
        info,
        Plan.of,
        lambda s: plans.advance_plan(s, require_id(plan_id, "planId"), to),
        scope=scopes.plan(plan_id),
        roles=EDITORS,
    )


def _activity(
    activity_id: strawberry.ID, act: Callable[[AsyncSession, m.Activity], Awaitable[R]]
) -> Callable[[AsyncSession], Awaitable[R]]:
    """``act`` on the activity (locked until the transaction ends): a participant's part in it."""

    async def action(session: AsyncSession) -> R:
        return await act(
            session, await activities.get_activity(session, require_id(activity_id, "activityId"))
        )

    return action


def _optional_id(value: strawberry.ID | None, field: str) -> uuid.UUID | None:
    return None if value is None else require_id(value, field)


def _participant(
    organization_id: strawberry.ID, educator_id: strawberry.ID | None
) -> participation.Participant:
    return participation.Participant(
        require_id(organization_id, "organizationId"), _optional_id(educator_id, "educatorId")
    )


def _on_activity(
    info: Info,
    activity_id: strawberry.ID,
    present: Callable[[Any], Any],
    act: Callable[[AsyncSession, uuid.UUID], Awaitable[Any]],
) -> Awaitable[Any]:
    """A change of an activity by its host's representative or an editor of the host's scope."""
    return run_command(
        info,
        present,
        lambda s: act(s, require_id(activity_id, "activityId")),
        scope=scopes.activity(activity_id),
        roles=PARTICIPANTS,
    )


@strawberry.type
class Mutation:
    @editors(
        "Start a network's joint plan for a calendar year or a school year (period: calendar_year or"
        " school_year, September to August), as a draft"
    )
    async def draft_plan(
        self, info: Info, network_id: strawberry.ID, year: int, title: str, period: str = "calendar_year"
    ) -> PlanResult:
        command = plans.DraftPlan(require_id(network_id, "networkId"), year, title, period)
        return await run_command(
            info,
            Plan.of,
            lambda s: plans.draft_plan(s, command),
            scope=scopes.network(network_id),
            roles=EDITORS,
        )

    @editors("Add an item to a draft plan")
    async def add_plan_item(self, info: Info, input: AddPlanItemInput) -> PlanItemResult:
        return await run_command(
            info,
            PlanItem.of,
            lambda s: plans.add_plan_item(s, input.to_command()),
            scope=scopes.plan(input.plan_id),
            roles=EDITORS,
        )

    @editors("draft → agreed")
    async def agree_plan(self, info: Info, plan_id: strawberry.ID) -> PlanResult:
        return await _advance(info, plan_id, PlanStatus.agreed)

    @editors("agreed → in progress")
    async def start_plan(self, info: Info, plan_id: strawberry.ID) -> PlanResult:
        return await _advance(info, plan_id, PlanStatus.in_progress)

    @editors("in progress → closed")
    async def close_plan(self, info: Info, plan_id: strawberry.ID) -> PlanResult:
        return await _advance(info, plan_id, PlanStatus.closed)

    @participants(
        "Propose an item of a draft or agreed plan for one's own organization (a centre, partner or"
        " supported school of the network), by its representative or the network's editors"
    )
    async def propose_plan_item(self, info: Info, input: ProposePlanItemInput) -> PlanProposalResult:
        return await run_command(
            info,
            PlanProposal.of,
            lambda s: plans.propose_plan_item(s, input.to_command(), proposer=_subject(info)),
            scope=scopes.plan_member(input.plan_id, input.organization_id),
            roles=PARTICIPANTS,
        )

    @editors("Accept a member's proposal: it becomes an item of the plan's current version")
    async def accept_plan_proposal(
        self, info: Info, proposal_id: strawberry.ID, reason: str | None = None
    ) -> PlanProposalResult:
        return await run_command(
            info,
            PlanProposal.of,
            lambda s: plans.accept_proposal(
                s, require_id(proposal_id, "proposalId"), reason, decider=_subject(info)
            ),
            scope=scopes.proposal(proposal_id),
            roles=EDITORS,
        )

    @editors("Decline a member's proposal, with the reason")
    async def decline_plan_proposal(
        self, info: Info, proposal_id: strawberry.ID, reason: str
    ) -> PlanProposalResult:
        return await run_command(
            info,
            PlanProposal.of,
            lambda s: plans.decline_proposal(
                s, require_id(proposal_id, "proposalId"), reason, decider=_subject(info)
            ),
            scope=scopes.proposal(proposal_id),
            roles=EDITORS,
        )

    @editors(
        "Amend an agreed plan: change or withdraw items, with the reason; the plan gets its next"
        " version, and the earlier ones stay readable"
    )
    async def amend_plan(self, info: Info, input: AmendPlanInput) -> PlanResult:
        return await run_command(
            info,
            Plan.of,
            lambda s: plans.amend_plan(s, input.to_command(), author=_subject(info)),
            scope=scopes.plan(input.plan_id),
            roles=EDITORS,
        )

    @participants(
        "Mark a task of an agreed plan done, with a note or a link to the document, by its responsible"
        " organization or the network's editors"
    )
    async def mark_plan_item_done(
        self,
        info: Info,
        item_id: strawberry.ID,
        note: str | None = None,
        document_url: str | None = None,
    ) -> PlanItemResult:
        return await run_command(
            info,
            PlanItem.of,
            lambda s: plans.mark_item_done(
                s, require_id(item_id, "itemId"), note, document_url, by=_subject(info)
            ),
            scope=scopes.plan_item(item_id),
            roles=PARTICIPANTS,
        )

    @participants("Put an activity in the calendar (planned)")
    async def plan_activity(self, info: Info, input: PlanActivityInput) -> ActivityResult:
        return await run_command(
            info,
            Activity.of,
            lambda s: activities.plan_activity(s, input.to_command()),
            scope=scopes.organizations(input.host_organization_id),
            roles=PARTICIPANTS,
        )

    @participants("planned or postponed → announced")
    async def announce_activity(self, info: Info, activity_id: strawberry.ID) -> ActivityResult:
        return await _on_activity(info, activity_id, Activity.of, activities.announce)

    @participants("→ held; not before the activity starts")
    async def hold_activity(self, info: Info, activity_id: strawberry.ID) -> ActivityResult:
        return await _on_activity(info, activity_id, Activity.of, activities.hold)

    @participants("held → reported, with the report")
    async def report_activity(self, info: Info, activity_id: strawberry.ID, report: str) -> ActivityResult:
        return await _on_activity(
            info, activity_id, Activity.of, lambda s, ident: activities.report(s, ident, report)
        )

    @participants("→ cancelled, with the reason")
    async def cancel_activity(self, info: Info, activity_id: strawberry.ID, reason: str) -> ActivityResult:
        return await _on_activity(
            info, activity_id, Activity.of, lambda s, ident: activities.cancel(s, ident, reason)
        )

    @participants("→ postponed, with the reason and the new dates if known")
    async def postpone_activity(
        self,
        info: Info,
        activity_id: strawberry.ID,
        reason: str,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> ActivityResult:
        return await _on_activity(
            info,
            activity_id,
            Activity.of,
            lambda s, ident: activities.postpone(s, ident, reason, starts_at=starts_at, ends_at=ends_at),
        )

    @participants("Attach a material (a link) to an activity")
    async def add_material(
        self, info: Info, activity_id: strawberry.ID, title: str, url: str
    ) -> MaterialResult:
        return await _on_activity(
            info, activity_id, Material.of, lambda s, ident: activities.add_material(s, ident, title, url)
        )

    @participants(
        "Attach a file to an activity (its materials), by those who may change the activity; emits"
        " document.attached"
    )
    async def attach_events_document(
        self, info: Info, input: AttachEventsDocumentInput
    ) -> AttachEventsDocumentResult:
        return await attach_command(
            info,
            owner_kind=input.owner_kind,
            owner_id=input.owner_id,
            file_name=input.file_name,
            content_base64=input.content_base64,
            title=input.title,
            roles=PARTICIPANTS,
        )

    @participants("Register an educator, or a whole organization, for an activity (by that organization)")
    async def register_participant(
        self,
        info: Info,
        activity_id: strawberry.ID,
        organization_id: strawberry.ID,
        educator_id: strawberry.ID | None = None,
    ) -> RegistrationResult:
        return await run_command(
            info,
            RegistrationRecord.of,
            _activity(
                activity_id,
                lambda s, a: participation.register(s, a, _participant(organization_id, educator_id)),
            ),
            scope=scopes.participant(activity_id, organization_id),
            roles=PARTICIPANTS,
        )

    @participants(
        "Record who took part in a held activity, and for how many hours (by the participating organization"
        " or the host)"
    )
    async def record_attendance(
        self,
        info: Info,
        activity_id: strawberry.ID,
        organization_id: strawberry.ID,
        hours: float,
        educator_id: strawberry.ID | None = None,
    ) -> AttendanceResult:
        return await run_command(
            info,
            lambda recorded: AttendanceRecord.of(recorded[0]),
            _activity(
                activity_id,
                lambda s, a: participation.record_attendance(
                    s, a, _participant(organization_id, educator_id), hours
                ),
            ),
            scope=scopes.participant_or_host(activity_id, organization_id),
            roles=PARTICIPANTS,
        )

    @participants(
        "Rate a held activity from 1 to 5, with a comment, by a participating organization (once; again"
        " replaces it; never by the host)"
    )
    async def give_feedback(
        self,
        info: Info,
        activity_id: strawberry.ID,
        rating: int,
        comment: str | None = None,
        organization_id: strawberry.ID | None = None,
    ) -> FeedbackResult:
        return await run_command(
            info,
            FeedbackRecord.of,
            _activity(
                activity_id,
                lambda s, a: participation.give_feedback(
                    s, a, rating, comment, organization_id=_optional_id(organization_id, "organizationId")
                ),
            ),
            scope=scopes.participant(activity_id, organization_id),
            roles=PARTICIPANTS,
        )

    @editors("Schedule a meeting of a network's council, methodological association or other body")
    async def schedule_meeting(self, info: Info, input: ScheduleMeetingInput) -> MeetingResult:
        return await run_command(
            info,
            Meeting.of,
            lambda s: meetings.schedule_meeting(s, input.to_command()),
            scope=scopes.network(input.network_id),
            roles=EDITORS,
        )

    @editors("Change a scheduled meeting (its time, place, agenda, participants): its whole new state")
    async def change_meeting(self, info: Info, input: ChangeMeetingInput) -> MeetingResult:
        return await run_command(
            info,
            Meeting.of,
            lambda s: meetings.change_meeting(s, input.to_command()),
            scope=scopes.meeting(input.meeting_id),
            roles=EDITORS,
        )

    @editors("scheduled → held, with the minutes (протокол); not before it starts")
    async def hold_meeting(self, info: Info, meeting_id: strawberry.ID, minutes: str) -> MeetingResult:
        return await run_command(
            info,
            Meeting.of,
            lambda s: meetings.hold_meeting(s, require_id(meeting_id, "meetingId"), minutes),
            scope=scopes.meeting(meeting_id),
            roles=EDITORS,
        )

    @editors("scheduled → cancelled, with the reason")
    async def cancel_meeting(self, info: Info, meeting_id: strawberry.ID, reason: str) -> MeetingResult:
        return await run_command(
            info,
            Meeting.of,
            lambda s: meetings.cancel_meeting(s, require_id(meeting_id, "meetingId"), reason),
            scope=scopes.meeting(meeting_id),
            roles=EDITORS,
        )

    @editors("Record a decision of a held meeting: what, the organization that answers for it, by when")
    async def record_meeting_decision(
        self, info: Info, input: RecordMeetingDecisionInput
    ) -> MeetingDecisionResult:
        return await run_command(
            info,
            MeetingDecision.of,
            lambda s: meetings.record_decision(s, input.to_command()),
            scope=scopes.meeting(input.meeting_id),
            roles=EDITORS,
        )

    @editors(
        "Carry a decision into the network's plan whose period covers its due date: an item of a draft"
        " plan, or a proposal of the responsible member to an agreed plan, which the coordinator then"
        " accepts or declines (kind: task or activity; title: the item's, the decision's text unless"
        " given)"
    )
    async def plan_meeting_decision(
        self, info: Info, decision_id: strawberry.ID, kind: str = "task", title: str | None = None
    ) -> MeetingDecisionResult:
        return await run_command(
            info,
            MeetingDecision.of,
            lambda s: meetings.plan_decision(
                s, require_id(decision_id, "decisionId"), by=_subject(info), kind=kind, title=title
            ),
            scope=scopes.decision(decision_id),
            roles=EDITORS,
        )

    @editors("Record students or teachers working at a partner's premises")
    async def record_mobility(self, info: Info, input: RecordMobilityInput) -> MobilityResult:
        return await run_command(
            info,
            MobilityRecord.of,
            lambda s: mobility.record_mobility(s, input.to_command()),
            scope=scopes.organizations(input.home_organization_id, input.host_organization_id),
            roles=EDITORS,
        )

    @editors(
        "Correct a recorded mobility (its counts, hours, dates, programme); its version goes up and"
        " analytics replaces the figure"
    )
    async def correct_mobility(self, info: Info, input: CorrectMobilityInput) -> MobilityResult:
        return await run_command(
            info,
            MobilityRecord.of,
            lambda s: mobility.correct_mobility(s, input.to_command()),
            scope=scopes.mobility(input.mobility_id),
            roles=EDITORS,
        )

    @editors(
        "Delete a mobility recorded by mistake, with the reason: it is no longer listed nor counted"
        " (kept, marked)"
    )
    async def delete_mobility(self, info: Info, mobility_id: strawberry.ID, reason: str) -> MobilityResult:
        return await run_command(
            info,
            MobilityRecord.of,
            lambda s: mobility.delete_mobility(s, require_id(mobility_id, "mobilityId"), reason),
            scope=scopes.mobility(mobility_id),
            roles=EDITORS,
        )
