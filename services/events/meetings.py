"""Meetings (заседания) of a network's council (совет сети), of a methodological association
(методическое объединение, РМО) or of another of its bodies: scheduled → held, with the minutes
(протокол), or cancelled.

Kalmykia's regulation (§ 5.1–5.2) has the network regulated jointly by the methodological services
and the heads of its members: the plan is agreed, groups are formed and proposals worked out at
such meetings. A meeting has a date and time, a place or an online link, an ordered agenda and its
participants (members of the network on its day: organizations, or their educators); once held,
its minutes and its decisions are recorded. A decision says what is to be done, which
organization answers for it and by when, and may be carried into the network's joint plan — the
plan whose period covers its due date — by the plan's own rules (:mod:`services.events.plans`): an
item of a draft plan, or, for an agreed one, a proposal of the responsible member that the
coordinator accepts or declines like any other. The item or proposal refers to the decision.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime

from setka_contracts.events import (
    MeetingCancelled,
    MeetingChanged,
    MeetingDecisionMade,
    MeetingDecisionPlanned,
    MeetingHeld,
    MeetingKind,
    MeetingParticipantState,
    MeetingScheduled,
    MeetingStatus,
    PlanItemKind,
    PlanStatus,
    ProposalStatus,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from setka_runtime.moments import aware, utc
from setka_runtime.russian import day, moment
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from . import plans
from .common import (
    SOURCE,
    check_choice,
    check_link,
    check_paragraphs,
    check_text,
    is_member,
    known_educator,
    known_group,
    known_network,
    known_organization,
    optional_text,
)
from .models import (
    Meeting,
    MeetingDecision,
    MeetingParticipant,
    PlanItem,
    PlanProposal,
    now,
    participant_key,
)

MEETING_STATUS_NAMES = {
    MeetingStatus.scheduled: "назначено",
    MeetingStatus.held: "проведено",
    MeetingStatus.cancelled: "отменено",
}
MAX_AGENDA = 50
MAX_PARTICIPANTS = 300
MAX_MINUTES = 100_000


@dataclass(frozen=True)
class Participant:
    """A participant of a meeting: an organization as a whole, or one of its educators."""

    organization_id: uuid.UUID
    educator_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ScheduleMeeting:
    network_id: uuid.UUID
    kind: str
    title: str
    starts_at: datetime
    agenda: list[str] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    ends_at: datetime | None = None
    place: str | None = None
    online_link: str | None = None
    interaction_group_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ChangeMeeting:
    """A scheduled meeting's whole new state: every field as it is to be (one not given is
    cleared)."""

    meeting_id: uuid.UUID
    kind: str
    title: str
    starts_at: datetime
    agenda: list[str] = field(default_factory=list)
    participants: list[Participant] = field(default_factory=list)
    ends_at: datetime | None = None
    place: str | None = None
    online_link: str | None = None
    interaction_group_id: uuid.UUID | None = None


@dataclass(frozen=True)
class RecordDecision:
    meeting_id: uuid.UUID
    text: str
    responsible_organization_id: uuid.UUID
    due_on: date


# --- a meeting's state, checked -------------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    kind: MeetingKind
    title: str
    starts_at: datetime
    ends_at: datetime | None
    place: str | None
    online_link: str | None
    interaction_group_id: uuid.UUID | None
    agenda: list[str]
    participants: list[Participant]

    def values(self) -> dict[str, object]:
        return {
            "kind": self.kind.value,
            "title": self.title,
            "starts_at": self.starts_at,
            "ends_at": self.ends_at,
            "place": self.place,
            "online_link": self.online_link,
            "interaction_group_id": self.interaction_group_id,
            "agenda": self.agenda,
        }


async def _state(
    session: AsyncSession, network_id: uuid.UUID, command: ScheduleMeeting | ChangeMeeting
) -> _State:
    """The fields of a meeting, checked: a time with its zone (an end after the start), a place or
    a link, an agenda of at least one item, participants who are members of the network on the
    meeting's day (an educator working at the organization named with them), a group of the
    network."""
    kind = check_choice(MeetingKind, command.kind, field="kind")
    title = check_text(command.title, field="title", limit=500)
    if command.starts_at.tzinfo is None or (command.ends_at is not None and command.ends_at.tzinfo is None):
        raise DomainError("Укажите время с часовым поясом", code="TIME_ZONE_REQUIRED", field="startsAt")
    starts_at = utc(command.starts_at, field="startsAt")
    ends_at = None if command.ends_at is None else utc(command.ends_at, field="endsAt")
    if ends_at is not None and ends_at <= starts_at:
        raise DomainError("Окончание должно быть позже начала", code="END_NOT_AFTER_START", field="endsAt")
    place = optional_text(command.place, field="place", limit=500)
    link = check_link(
        command.online_link,
        field="onlineLink",
        message="Ссылка на онлайн-заседание начинается с https://",
    )
    if place is None and link is None:
        raise DomainError(
            "Укажите место заседания или ссылку на онлайн-заседание",
            code="PLACE_OR_LINK_REQUIRED",
            field="place",
        )
    agenda = [check_text(item, field="agenda", limit=500) for item in command.agenda if item.strip()]
    if not agenda:
        raise DomainError("Впишите в повестку хотя бы один вопрос", code="AGENDA_EMPTY", field="agenda")
    if len(agenda) > MAX_AGENDA:
        raise DomainError(f"В повестке — не больше {MAX_AGENDA} вопросов", code="TOO_MANY", field="agenda")
    group = await known_group(session, network_id, command.interaction_group_id)
    participants = list(dict.fromkeys(command.participants))
    if len(participants) > MAX_PARTICIPANTS:
        raise DomainError(f"Участников — не больше {MAX_PARTICIPANTS}", code="TOO_MANY", field="participants")
    network = await known_network(session, network_id)
    for one in participants:
        organization = await known_organization(session, one.organization_id, field="participants")
        if not await is_member(session, network_id, organization.id, starts_at.date()):
            raise DomainError(
                f"{organization.short_name} не входит в сеть «{network.name}» на {day(starts_at.date())}",
                code="NOT_A_MEMBER",
                field="participants",
            )
        if one.educator_id is not None:
            await known_educator(
                session, one.educator_id, organization_id=organization.id, field="participants"
            )
    return _State(
        kind=kind,
        title=title,
        starts_at=starts_at,
        ends_at=ends_at,
        place=place,
        online_link=link,
        interaction_group_id=group,
        agenda=agenda,
        participants=participants,
    )


def _scheduled_event(
    meeting: Meeting, participants: list[Participant], model: type[MeetingScheduled] = MeetingScheduled
) -> MeetingScheduled:
    return model(
        meeting_id=meeting.id,
        network_id=meeting.network_id,
        kind=MeetingKind(meeting.kind),
        title=meeting.title,
        starts_at=aware(meeting.starts_at),
        ends_at=meeting.ends_at and aware(meeting.ends_at),
        place=meeting.place,
        online_link=meeting.online_link,
        interaction_group_id=meeting.interaction_group_id,
        agenda=list(meeting.agenda),
        participants=[
            MeetingParticipantState(organization_id=p.organization_id, educator_id=p.educator_id)
            for p in participants
        ],
    )


async def _seat(session: AsyncSession, meeting: Meeting, participants: list[Participant]) -> None:
    """The meeting's participants, in the order given, replacing those it had."""
    for row in await session.scalars(
        select(MeetingParticipant).where(MeetingParticipant.meeting_id == meeting.id)
    ):
        await session.delete(row)
    await session.flush()
    for position, one in enumerate(participants, start=1):
        session.add(
            MeetingParticipant(
                meeting_id=meeting.id,
                organization_id=one.organization_id,
                educator_id=one.educator_id,
                participant=participant_key(one.organization_id, one.educator_id),
                position=position,
            )
        )
    await session.flush()


# --- the meeting's lifecycle ----------------------------------------------------------------------


async def schedule_meeting(session: AsyncSession, command: ScheduleMeeting) -> Meeting:
    await known_network(session, command.network_id)
    state = await _state(session, command.network_id, command)
    meeting = Meeting(network_id=command.network_id, **state.values())
    session.add(meeting)
    await session.flush()
    await _seat(session, meeting, state.participants)
    await outbox.record(session, _scheduled_event(meeting, state.participants), source=SOURCE)
    return meeting


async def get_meeting(session: AsyncSession, meeting_id: uuid.UUID, *, field: str = "meetingId") -> Meeting:
    meeting = await session.get(Meeting, meeting_id, with_for_update=True)
    if meeting is None:
        raise DomainError("Такого заседания нет", code="MEETING_NOT_FOUND", field=field)
    return meeting


def _require(meeting: Meeting, status: MeetingStatus, doing: str, *, code: str) -> None:
    if meeting.status != status:
        raise DomainError(
            f"{doing}, а это заседание — {MEETING_STATUS_NAMES[MeetingStatus(meeting.status)]}",
            code=code,
            field="meetingId",
        )


async def change_meeting(session: AsyncSession, command: ChangeMeeting) -> Meeting:
    """A scheduled meeting moved, its agenda or participants changed: its whole new state."""
    meeting = await get_meeting(session, command.meeting_id)
    _require(
        meeting,
        MeetingStatus.scheduled,
        "Изменяют только назначенное заседание",
        code="MEETING_NOT_SCHEDULED",
    )
    state = await _state(session, meeting.network_id, command)
    for name, value in state.values().items():
        setattr(meeting, name, value)
    meeting.updated_at = now()
    await session.flush()
    await _seat(session, meeting, state.participants)
    await outbox.record(session, _scheduled_event(meeting, state.participants, MeetingChanged), source=SOURCE)
    return meeting


async def hold_meeting(
    session: AsyncSession, meeting_id: uuid.UUID, minutes: str, *, at: datetime | None = None
) -> Meeting:
    """The meeting took place, with its minutes; not before it starts."""
    meeting = await get_meeting(session, meeting_id)
    _require(
        meeting,
        MeetingStatus.scheduled,
        "Провести можно только назначенное заседание",
        code="MEETING_NOT_SCHEDULED",
    )
    when = at or now()
    if when < aware(meeting.starts_at):
        raise DomainError(
            f"Заседание начнётся {moment(aware(meeting.starts_at))}; раньше его нельзя отметить проведённым",
            code="HELD_BEFORE_START",
            field="meetingId",
        )
    meeting.minutes = check_paragraphs(minutes, field="minutes", limit=MAX_MINUTES)
    meeting.status, meeting.held_at, meeting.updated_at = MeetingStatus.held.value, when, when
    await session.flush()
    await outbox.record(
        session, MeetingHeld(meeting_id=meeting.id, held_at=when, minutes=meeting.minutes), source=SOURCE
    )
    return meeting


async def cancel_meeting(session: AsyncSession, meeting_id: uuid.UUID, reason: str) -> Meeting:
    meeting = await get_meeting(session, meeting_id)
    _require(
        meeting,
        MeetingStatus.scheduled,
        "Отменить можно только назначенное заседание",
        code="MEETING_NOT_SCHEDULED",
    )
    meeting.status_reason = check_text(reason, field="reason", limit=1000)
    meeting.status, meeting.updated_at = MeetingStatus.cancelled.value, now()
    await session.flush()
    await outbox.record(
        session,
        MeetingCancelled(
            meeting_id=meeting.id, cancelled_at=meeting.updated_at, reason=meeting.status_reason
        ),
        source=SOURCE,
    )
    return meeting


# --- decisions ------------------------------------------------------------------------------------


async def record_decision(session: AsyncSession, command: RecordDecision) -> MeetingDecision:
    """A decision of a held meeting: its next number, its text, the organization that answers for
    it (a member of the network on the meeting's day) and its due date (not before the meeting)."""
    meeting = await get_meeting(session, command.meeting_id)
    _require(
        meeting, MeetingStatus.held, "Решения записывают в проведённое заседание", code="MEETING_NOT_HELD"
    )
    text = check_text(command.text, field="text", limit=2000)
    organization = await known_organization(
        session, command.responsible_organization_id, field="responsibleOrganizationId"
    )
    held_on = aware(meeting.starts_at).date()
    if not await is_member(session, meeting.network_id, organization.id, held_on):
        raise DomainError(
            f"{organization.short_name} не входит в сеть на {day(held_on)}",
            code="NOT_A_MEMBER",
            field="responsibleOrganizationId",
        )
    if command.due_on < held_on:
        raise DomainError(
            f"Срок — не раньше дня заседания ({day(held_on)})", code="DUE_BEFORE_MEETING", field="dueOn"
        )
    number = (
        await session.scalar(
            select(func.coalesce(func.max(MeetingDecision.number), 0)).where(
                MeetingDecision.meeting_id == meeting.id
            )
        )
        or 0
    ) + 1
    decision = MeetingDecision(
        meeting_id=meeting.id,
        number=number,
        text=text,
        responsible_organization_id=organization.id,
        due_on=command.due_on,
    )
    session.add(decision)
    await session.flush()
    await outbox.record(
        session,
        MeetingDecisionMade(
            meeting_id=meeting.id,
            decision_id=decision.id,
            number=number,
            text=text,
            responsible_organization_id=organization.id,
            due_on=decision.due_on,
        ),
        source=SOURCE,
    )
    return decision


async def get_decision(session: AsyncSession, decision_id: uuid.UUID) -> tuple[Meeting, MeetingDecision]:
    """The decision and its meeting (locked: what is done with the decision is done once)."""
    meeting_id = await session.scalar(
        select(MeetingDecision.meeting_id).where(MeetingDecision.id == decision_id)
    )
    if meeting_id is None:
        raise DomainError("Такого решения нет", code="DECISION_NOT_FOUND", field="decisionId")
    meeting = await get_meeting(session, meeting_id, field="decisionId")
    decision = await session.get(MeetingDecision, decision_id)
    assert decision is not None
    return meeting, decision


async def carried_into_plan(session: AsyncSession, decision_id: uuid.UUID) -> PlanItem | PlanProposal | None:
    """What already carries the decision in a plan: its item, or its proposal still pending."""
    item = await session.scalar(select(PlanItem).where(PlanItem.decision_id == decision_id))
    if item is not None:
        return item
    return await session.scalar(
        select(PlanProposal).where(
            PlanProposal.decision_id == decision_id, PlanProposal.status == ProposalStatus.pending.value
        )
    )


async def plan_decision(
    session: AsyncSession,
    decision_id: uuid.UUID,
    *,
    by: str,
    kind: str = PlanItemKind.task.value,
    title: str | None = None,
) -> MeetingDecision:
    """Carry a decision into the network's plan whose period covers its due date: an item of a
    draft plan; a proposal of the responsible member to an agreed plan (the coordinator decides it
    as any other). ``title`` is the item's (the decision's text unless given)."""
    meeting, decision = await get_decision(session, decision_id)
    already = await carried_into_plan(session, decision.id)
    if isinstance(already, PlanItem):
        raise DomainError("Решение уже внесено в план", code="DECISION_IN_PLAN", field="decisionId")
    if already is not None:
        raise DomainError(
            "Решение уже предложено в план: предложение ждёт решения координатора",
            code="DECISION_PROPOSED",
            field="decisionId",
        )
    plan = await plans.plan_covering(session, meeting.network_id, decision.due_on)
    if plan is None:
        raise DomainError(
            f"У сети нет плана, в период которого попадает срок решения ({day(decision.due_on)}):"
            " сначала составьте план",
            code="NO_PLAN_FOR_DUE_DATE",
            field="decisionId",
        )
    name = title if title and title.strip() else decision.text
    meeting_date = day(aware(meeting.starts_at).date())
    expected = f"Решение заседания «{meeting.title}» от {meeting_date}, № {decision.number}"
    item_id = proposal_id = None
    if plan.status == PlanStatus.draft:
        item = await plans.add_plan_item(
            session,
            plans.AddPlanItem(
                plan_id=plan.id,
                title=name,
                due_on=decision.due_on,
                responsible_organization_id=decision.responsible_organization_id,
                expected_result=expected,
                kind=kind,
            ),
            decision_id=decision.id,
        )
        item_id = item.id
    else:
        proposal = await plans.propose_plan_item(
            session,
            plans.ProposePlanItem(
                plan_id=plan.id,
                organization_id=decision.responsible_organization_id,
                title=name,
                due_on=decision.due_on,
                kind=kind,
                expected_result=expected,
            ),
            proposer=by,
            decision_id=decision.id,
        )
        proposal_id = proposal.id
    await outbox.record(
        session,
        MeetingDecisionPlanned(
            meeting_id=meeting.id,
            decision_id=decision.id,
            plan_id=plan.id,
            item_id=item_id,
            proposal_id=proposal_id,
        ),
        source=SOURCE,
    )
    return decision
