"""Joint plans of a network (совместный план деятельности): draft → agreed → in progress → closed.

A plan covers a calendar year or a school year (September to August), as its network chooses;
every item is due within it. Planning is joint (Baltiysk order № 474: the plan is drawn up with
the schools; Kalmykia's regulation § 5.2: «согласование плана совместных действий»): the
coordinator adds items to a draft, and members of the network — a centre, a partner, a supported
school — propose items for themselves, on a draft or on an agreed plan; the coordinator accepts
(the proposal becomes an item of the current version) or declines each, with a reason.

An agreed plan is changed only by amendments: each has an author, a moment, a reason and the next
version number, and edits or withdraws items; every version stays readable (the items as they
were, from :class:`PlanItemRevision`). Items are activities (done when one of their activities
is held) or tasks (done when their responsible organization or a coordinator marks them done,
with a note or a document).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from setka_contracts.events import (
    ActivityStatus,
    PlanAgreed,
    PlanAmended,
    PlanClosed,
    PlanDrafted,
    PlanItemAdded,
    PlanItemDone,
    PlanItemKind,
    PlanItemState,
    PlanPeriod,
    PlanProposalAccepted,
    PlanProposalDeclined,
    PlanProposalMade,
    PlanStarted,
    PlanStatus,
    ProposalStatus,
)
from setka_contracts.registry import MemberRole
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from .common import (
    PLAN_STATUS_NAMES,
    SOURCE,
    check_choice,
    check_link,
    check_text,
    known_group,
    known_network,
    known_organization,
    optional_text,
)
from .models import (
    Activity,
    KnownMembership,
    Plan,
    PlanAmendment,
    PlanItem,
    PlanItemRevision,
    PlanProposal,
    now,
)

PROPOSAL_STATUS_NAMES = {ProposalStatus.accepted: "принято", ProposalStatus.declined: "отклонено"}

NEXT_STATUS = {
    PlanStatus.draft: PlanStatus.agreed,
    PlanStatus.agreed: PlanStatus.in_progress,
    PlanStatus.in_progress: PlanStatus.closed,
}
OPEN = (PlanStatus.draft, PlanStatus.agreed, PlanStatus.in_progress)
"""Statuses in which members may still propose items and proposals may be accepted."""
AGREED = (PlanStatus.agreed, PlanStatus.in_progress)
"""Statuses in which the plan is amended (not edited) and its tasks are marked done."""
PROPOSING_ROLES = frozenset({MemberRole.centre, MemberRole.partner, MemberRole.supported})
"""Members who propose items for themselves: the centre, partners and supported schools."""
HELD = (ActivityStatus.held.value, ActivityStatus.reported.value)


# --- the period a plan covers -------------------------------------------------------------------


def period_bounds(period: str, year: int) -> tuple[date, date]:
    """The first and the last day a plan of ``year`` covers: a calendar year, or the school year
    that starts on 1 September of ``year`` and ends on 31 August of the next."""
    if period == PlanPeriod.school_year:
        return date(year, 9, 1), date(year + 1, 8, 31)
    return date(year, 1, 1), date(year, 12, 31)


def period_label(period: str, year: int) -> str:
    """``2026`` for a calendar year, ``2025/26`` for a school year."""
    return f"{year}/{(year + 1) % 100:02d}" if period == PlanPeriod.school_year else str(year)


def check_due(plan: Plan, due_on: date, *, field: str = "dueOn") -> date:
    first, last = period_bounds(plan.period, plan.year)
    if not first <= due_on <= last:
        label = period_label(plan.period, plan.year)
        within = (
            f"{label} учебном году ({first:%d.%m.%Y}–{last:%d.%m.%Y})"
            if plan.period == PlanPeriod.school_year
            else f"{label} году"
        )
        raise DomainError(f"Срок пункта должен быть в {within}", code="DUE_OUTSIDE_PLAN_YEAR", field=field)
    return due_on


# --- commands -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftPlan:
    network_id: uuid.UUID
    year: int
    title: str
    period: str = PlanPeriod.calendar_year.value


@dataclass(frozen=True)
class AddPlanItem:
    plan_id: uuid.UUID
    title: str
    due_on: date
    responsible_organization_id: uuid.UUID | None = None
    responsible_person: str | None = None
    expected_result: str | None = None
    kind: str = PlanItemKind.activity.value
    interaction_group_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ProposePlanItem:
    """A member's proposal of an item it will be responsible for."""

    plan_id: uuid.UUID
    organization_id: uuid.UUID
    title: str
    due_on: date
    kind: str = PlanItemKind.activity.value
    responsible_person: str | None = None
    expected_result: str | None = None
    interaction_group_id: uuid.UUID | None = None


@dataclass(frozen=True)
class ChangePlanItem:
    """An item's whole new state in an amendment: every field as it is to be (one not given is
    cleared)."""

    item_id: uuid.UUID
    title: str
    kind: str
    due_on: date
    responsible_organization_id: uuid.UUID | None = None
    responsible_person: str | None = None
    expected_result: str | None = None
    interaction_group_id: uuid.UUID | None = None


@dataclass(frozen=True)
class AmendPlan:
    plan_id: uuid.UUID
    reason: str
    changes: list[ChangePlanItem] = field(default_factory=list)
    withdrawn_item_ids: list[uuid.UUID] = field(default_factory=list)


# --- lookups ------------------------------------------------------------------------------------


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> Plan:
    plan = await session.get(Plan, plan_id, with_for_update=True)
    if plan is None:
        raise DomainError("Такого плана нет", code="PLAN_NOT_FOUND", field="planId")
    return plan


async def plan_covering(session: AsyncSession, network_id: uuid.UUID, on: date) -> Plan | None:
    """The network's plan whose period (calendar or school year) covers the day, locked; its plans
    never overlap, so there is at most one."""
    query = select(Plan.id, Plan.period, Plan.year).where(
        Plan.network_id == network_id, Plan.year.in_([on.year - 1, on.year])
    )
    for ident, period, year in (await session.execute(query)).all():
        first, last = period_bounds(period, year)
        if first <= on <= last:
            return await get_plan(session, ident)
    return None


def _require_status(
    plan: Plan, allowed: Sequence[PlanStatus], doing: str, *, code: str, field: str = "planId"
) -> None:
    if plan.status not in allowed:
        raise DomainError(f"{doing}, а этот план — {PLAN_STATUS_NAMES[plan.status]}", code=code, field=field)


@dataclass(frozen=True)
class _ItemState:
    title: str
    kind: PlanItemKind
    due_on: date
    responsible_organization_id: uuid.UUID | None
    responsible_person: str | None
    expected_result: str | None
    interaction_group_id: uuid.UUID | None

    def values(self) -> dict[str, object]:
        return {
            "title": self.title,
            "kind": self.kind.value,
            "due_on": self.due_on,
            "responsible_organization_id": self.responsible_organization_id,
            "responsible_person": self.responsible_person,
            "expected_result": self.expected_result,
            "interaction_group_id": self.interaction_group_id,
        }


async def _item_state(
    session: AsyncSession,
    plan: Plan,
    *,
    title: str,
    kind: str,
    due_on: date,
    responsible_organization_id: uuid.UUID | None,
    responsible_person: str | None,
    expected_result: str | None,
    interaction_group_id: uuid.UUID | None,
) -> _ItemState:
    """An item's fields, checked: due within the plan's period; a task has a responsible
    organization; the organization and the group are the registry's (the group the network's)."""
    chosen = check_choice(PlanItemKind, kind, field="kind")
    if responsible_organization_id is not None:
        await known_organization(session, responsible_organization_id, field="responsibleOrganizationId")
    elif chosen == PlanItemKind.task:
        raise DomainError(
            "Укажите организацию, ответственную за задачу",
            code="RESPONSIBLE_ORGANIZATION_REQUIRED",
            field="responsibleOrganizationId",
        )
    return _ItemState(
        title=check_text(title, field="title", limit=500),
        kind=chosen,
        due_on=check_due(plan, due_on),
        responsible_organization_id=responsible_organization_id,
        responsible_person=optional_text(responsible_person, field="responsiblePerson", limit=200),
        expected_result=optional_text(expected_result, field="expectedResult", limit=1000),
        interaction_group_id=await known_group(session, plan.network_id, interaction_group_id),
    )


# --- drafting -----------------------------------------------------------------------------------


async def draft_plan(session: AsyncSession, command: DraftPlan) -> Plan:
    await known_network(session, command.network_id)
    if not 2000 <= command.year <= 2100:
        raise DomainError("Год — от 2000 до 2100", code="YEAR_OUT_OF_RANGE", field="year")
    period = check_choice(PlanPeriod, command.period, field="period")
    first, last = period_bounds(period, command.year)
    others = (await session.scalars(select(Plan).where(Plan.network_id == command.network_id))).all()
    for other in others:
        if other.year == command.year:
            raise DomainError(
                f"У сети уже есть план на {command.year} год",
                code="PLAN_EXISTS",
                field="year",
            )
        other_first, other_last = period_bounds(other.period, other.year)
        if other_first <= last and first <= other_last:
            raise DomainError(
                f"План сети на {period_label(other.period, other.year)} уже охватывает часть"
                f" {period_label(period, command.year)}",
                code="PLAN_PERIODS_OVERLAP",
                field="year",
            )
    plan = Plan(
        network_id=command.network_id,
        year=command.year,
        period=period.value,
        title=check_text(command.title, field="title", limit=500),
    )
    session.add(plan)
    await session.flush()
    await outbox.record(
        session,
        PlanDrafted(
            plan_id=plan.id, network_id=plan.network_id, year=plan.year, title=plan.title, period=period
        ),
        source=SOURCE,
    )
    return plan


async def _add_item(
    session: AsyncSession,
    plan: Plan,
    state: _ItemState,
    *,
    proposal_id: uuid.UUID | None = None,
    decision_id: uuid.UUID | None = None,
) -> PlanItem:
    """The item in the plan's current version, its first revision, and plan.item_added."""
    item = PlanItem(plan_id=plan.id, proposal_id=proposal_id, decision_id=decision_id, **state.values())
    session.add(item)
    await session.flush()
    session.add(PlanItemRevision(item_id=item.id, version=plan.version, plan_id=plan.id, **state.values()))
    await session.flush()
    await outbox.record(
        session,
        PlanItemAdded(
            plan_id=plan.id,
            item_id=item.id,
            title=item.title,
            due_on=item.due_on,
            responsible_organization_id=item.responsible_organization_id,
            responsible_person=item.responsible_person,
            expected_result=item.expected_result,
            kind=state.kind,
            interaction_group_id=item.interaction_group_id,
            version=plan.version,
            proposal_id=proposal_id,
            decision_id=decision_id,
        ),
        source=SOURCE,
    )
    return item


async def add_plan_item(
    session: AsyncSession, command: AddPlanItem, *, decision_id: uuid.UUID | None = None
) -> PlanItem:
    """An item of a draft plan; ``decision_id``: the meeting's decision it carries out."""
    plan = await get_plan(session, command.plan_id)
    adding = "Пункты добавляют только в черновик плана"
    _require_status(plan, (PlanStatus.draft,), adding, code="PLAN_NOT_DRAFT")
    state = await _item_state(
        session,
        plan,
        title=command.title,
        kind=command.kind,
        due_on=command.due_on,
        responsible_organization_id=command.responsible_organization_id,
        responsible_person=command.responsible_person,
        expected_result=command.expected_result,
        interaction_group_id=command.interaction_group_id,
    )
    return await _add_item(session, plan, state, decision_id=decision_id)


async def advance_plan(session: AsyncSession, plan_id: uuid.UUID, to: PlanStatus) -> Plan:
    """Move a plan one step along its lifecycle; any other move is refused."""
    plan = await get_plan(session, plan_id)
    current = PlanStatus(plan.status)
    if NEXT_STATUS.get(current) != to:
        raise DomainError(
            f"План в состоянии «{PLAN_STATUS_NAMES[current]}» нельзя перевести в «{PLAN_STATUS_NAMES[to]}»",
            code="PLAN_TRANSITION",
            field="planId",
        )
    if to == PlanStatus.agreed:
        items = await session.scalar(
            select(func.count()).select_from(PlanItem).where(PlanItem.plan_id == plan.id)
        )
        if not items:
            raise DomainError(
                "План без пунктов нельзя согласовать", code="PLAN_WITHOUT_ITEMS", field="planId"
            )
    plan.status = to.value
    plan.updated_at = now()
    await session.flush()
    event = {
        PlanStatus.agreed: PlanAgreed,
        PlanStatus.in_progress: PlanStarted,
        PlanStatus.closed: PlanClosed,
    }[to]
    await outbox.record(session, event(plan_id=plan.id, changed_at=plan.updated_at), source=SOURCE)
    return plan


# --- members' proposals ---------------------------------------------------------------------------


async def proposing_member(
    session: AsyncSession, network_id: uuid.UUID, organization_id: uuid.UUID, on: date
) -> bool:
    """Whether the organization is, on that day, the network's centre, a partner or a supported
    school (not methodological support or the coordinating body: they propose nothing for
    themselves)."""
    found = await session.scalar(
        select(KnownMembership.id).where(
            KnownMembership.network_id == network_id,
            KnownMembership.organization_id == organization_id,
            KnownMembership.role.in_([role.value for role in PROPOSING_ROLES]),
            KnownMembership.joined_on <= on,
            or_(KnownMembership.left_on.is_(None), KnownMembership.left_on > on),
        )
    )
    return found is not None


async def propose_plan_item(
    session: AsyncSession, command: ProposePlanItem, *, proposer: str, decision_id: uuid.UUID | None = None
) -> PlanProposal:
    """A member's proposal; ``decision_id``: the meeting's decision it carries out (the item it
    becomes, once accepted, refers to the decision too)."""
    plan = await get_plan(session, command.plan_id)
    _require_status(plan, OPEN, "Пункты предлагают в черновик или в согласованный план", code="PLAN_NOT_OPEN")
    organization = await known_organization(session, command.organization_id, field="organizationId")
    if not await proposing_member(session, plan.network_id, organization.id, now().date()):
        raise DomainError(
            f"{organization.short_name} — не центр, не партнёр и не сопровождаемая школа сети",
            code="NOT_A_PROPOSING_MEMBER",
            field="organizationId",
        )
    state = await _item_state(
        session,
        plan,
        title=command.title,
        kind=command.kind,
        due_on=command.due_on,
        responsible_organization_id=organization.id,
        responsible_person=command.responsible_person,
        expected_result=command.expected_result,
        interaction_group_id=command.interaction_group_id,
    )
    values = state.values()
    del values["responsible_organization_id"]
    proposal = PlanProposal(
        plan_id=plan.id,
        organization_id=organization.id,
        proposed_by=proposer,
        decision_id=decision_id,
        **values,
    )
    session.add(proposal)
    await session.flush()
    await outbox.record(
        session,
        PlanProposalMade(
            plan_id=plan.id,
            proposal_id=proposal.id,
            organization_id=proposal.organization_id,
            title=proposal.title,
            kind=state.kind,
            due_on=proposal.due_on,
            responsible_person=proposal.responsible_person,
            expected_result=proposal.expected_result,
            interaction_group_id=proposal.interaction_group_id,
            proposed_at=proposal.proposed_at,
            decision_id=decision_id,
        ),
        source=SOURCE,
    )
    return proposal


async def _pending(session: AsyncSession, proposal_id: uuid.UUID) -> tuple[Plan, PlanProposal]:
    """The proposal (locked, with its plan, locked first), which must not be decided yet."""
    plan_id = await session.scalar(select(PlanProposal.plan_id).where(PlanProposal.id == proposal_id))
    if plan_id is None:
        raise DomainError("Такого предложения нет", code="PROPOSAL_NOT_FOUND", field="proposalId")
    plan = await get_plan(session, plan_id)
    proposal = await session.get(PlanProposal, proposal_id, with_for_update=True)
    assert proposal is not None
    if proposal.status != ProposalStatus.pending:
        raise DomainError(
            f"Предложение уже {PROPOSAL_STATUS_NAMES.get(proposal.status, proposal.status)}",
            code="PROPOSAL_DECIDED",
            field="proposalId",
        )
    return plan, proposal


def _decide(proposal: PlanProposal, status: ProposalStatus, reason: str | None, decider: str) -> None:
    proposal.status = status.value
    proposal.decision_reason = reason
    proposal.decided_by = decider
    proposal.decided_at = now()


async def accept_proposal(
    session: AsyncSession, proposal_id: uuid.UUID, reason: str | None, *, decider: str
) -> PlanProposal:
    """The proposal becomes an item of the plan's current version."""
    plan, proposal = await _pending(session, proposal_id)
    _require_status(
        plan,
        OPEN,
        "Предложение принимают в черновик или в согласованный план",
        code="PLAN_NOT_OPEN",
        field="proposalId",
    )
    state = await _item_state(
        session,
        plan,
        title=proposal.title,
        kind=proposal.kind,
        due_on=proposal.due_on,
        responsible_organization_id=proposal.organization_id,
        responsible_person=proposal.responsible_person,
        expected_result=proposal.expected_result,
        interaction_group_id=proposal.interaction_group_id,
    )
    _decide(proposal, ProposalStatus.accepted, optional_text(reason, field="reason", limit=2000), decider)
    item = await _add_item(session, plan, state, proposal_id=proposal.id, decision_id=proposal.decision_id)
    proposal.item_id = item.id
    await session.flush()
    await outbox.record(
        session,
        PlanProposalAccepted(
            plan_id=plan.id,
            proposal_id=proposal.id,
            item_id=item.id,
            decided_at=proposal.decided_at,
            reason=proposal.decision_reason,
        ),
        source=SOURCE,
    )
    return proposal


async def decline_proposal(
    session: AsyncSession, proposal_id: uuid.UUID, reason: str, *, decider: str
) -> PlanProposal:
    plan, proposal = await _pending(session, proposal_id)
    _decide(proposal, ProposalStatus.declined, check_text(reason, field="reason", limit=2000), decider)
    await session.flush()
    await outbox.record(
        session,
        PlanProposalDeclined(
            plan_id=plan.id,
            proposal_id=proposal.id,
            decided_at=proposal.decided_at,
            reason=proposal.decision_reason,
        ),
        source=SOURCE,
    )
    return proposal


# --- being done ---------------------------------------------------------------------------------


async def held_items(session: AsyncSession, item_ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Those of the items one of whose activities was held (or reported)."""
    wanted = list(item_ids)
    if not wanted:
        return set()
    query = select(Activity.plan_item_id).where(Activity.plan_item_id.in_(wanted), Activity.status.in_(HELD))
    return {ident for ident in await session.scalars(query) if ident is not None}


def is_done(item: PlanItem, held: bool) -> bool:
    """A task when marked done; an activity item when one of its activities was held."""
    return item.done_at is not None or held


def check_document(url: str | None) -> str | None:
    return check_link(url, field="documentUrl", message="Документ — это ссылка, начинающаяся с https://")


async def mark_item_done(
    session: AsyncSession, item_id: uuid.UUID, note: str | None, document_url: str | None, *, by: str
) -> PlanItem:
    """A task marked done, with a note or a document reference (a link)."""
    found = await session.get(PlanItem, item_id)
    if found is None:
        raise DomainError("Такого пункта плана нет", code="PLAN_ITEM_NOT_FOUND", field="itemId")
    plan = await get_plan(session, found.plan_id)
    item = await session.get(PlanItem, item_id, with_for_update=True)
    assert item is not None
    _require_status(
        plan, AGREED, "Пункты выполняют в согласованном плане", code="PLAN_NOT_AGREED", field="itemId"
    )
    if item.withdrawn_at is not None:
        raise DomainError("Пункт исключён из плана", code="PLAN_ITEM_WITHDRAWN", field="itemId")
    if item.kind != PlanItemKind.task:
        raise DomainError(
            "Пункт-мероприятие выполнен, когда проведено одно из его мероприятий",
            code="PLAN_ITEM_IS_ACTIVITY",
            field="itemId",
        )
    if item.done_at is not None:
        raise DomainError(
            f"Пункт уже отмечен выполненным {item.done_at:%d.%m.%Y}", code="PLAN_ITEM_DONE", field="itemId"
        )
    text = optional_text(note, field="note", limit=2000)
    link = check_document(document_url)
    if text is None and link is None:
        raise DomainError(
            "Укажите, что сделано: заметку или ссылку на документ", code="DONE_WITHOUT_NOTE", field="note"
        )
    item.done_at, item.done_note, item.done_document_url, item.done_by = now(), text, link, by
    await session.flush()
    await outbox.record(
        session,
        PlanItemDone(
            plan_id=plan.id,
            item_id=item.id,
            organization_id=item.responsible_organization_id,
            done_at=item.done_at,
            note=text,
            document_url=link,
        ),
        source=SOURCE,
    )
    return item


# --- amendments ---------------------------------------------------------------------------------


async def amend_plan(session: AsyncSession, command: AmendPlan, *, author: str) -> Plan:
    """The plan's next version: the items changed to their new states and those withdrawn."""
    plan = await get_plan(session, command.plan_id)
    _require_status(
        plan, AGREED, "Поправки вносят в согласованный план (черновик правят)", code="PLAN_NOT_AGREED"
    )
    reason = check_text(command.reason, field="reason", limit=2000)
    changed = [change.item_id for change in command.changes]
    touched = changed + list(command.withdrawn_item_ids)
    if not touched:
        raise DomainError(
            "Поправка изменяет или исключает хотя бы один пункт", code="NOTHING_CHANGED", field="changes"
        )
    if len(set(touched)) != len(touched):
        raise DomainError(
            "В поправке каждый пункт изменяют или исключают один раз", code="ITEM_REPEATED", field="changes"
        )
    items = {
        item.id: item
        for item in await session.scalars(select(PlanItem).where(PlanItem.id.in_(touched)).with_for_update())
    }
    for ident, where in [
        *((i, "changes") for i in changed),
        *((i, "withdrawnItemIds") for i in command.withdrawn_item_ids),
    ]:
        item = items.get(ident)
        if item is None or item.plan_id != plan.id:
            raise DomainError("Такого пункта в этом плане нет", code="PLAN_ITEM_NOT_FOUND", field=where)
        if item.withdrawn_at is not None:
            raise DomainError(f"Пункт «{item.title}» уже исключён", code="PLAN_ITEM_WITHDRAWN", field=where)
    held = await held_items(session, touched)
    linked = set(
        await session.scalars(
            select(Activity.plan_item_id).where(
                Activity.plan_item_id.in_(changed), Activity.status != ActivityStatus.cancelled.value
            )
        )
    )
    version = plan.version + 1
    states: list[tuple[PlanItem, _ItemState]] = []
    for change in command.changes:
        item = items[change.item_id]
        state = await _item_state(
            session,
            plan,
            title=change.title,
            kind=change.kind,
            due_on=change.due_on,
            responsible_organization_id=change.responsible_organization_id,
            responsible_person=change.responsible_person,
            expected_result=change.expected_result,
            interaction_group_id=change.interaction_group_id,
        )
        if state.kind != item.kind and is_done(item, item.id in held):
            raise DomainError(
                f"Пункт «{item.title}» выполнен: его вид не меняется", code="PLAN_ITEM_DONE", field="changes"
            )
        if state.kind == PlanItemKind.task and item.id in linked:
            raise DomainError(
                f"Пункт «{item.title}» выполняют мероприятия календаря: он остаётся мероприятием",
                code="PLAN_ITEM_HAS_ACTIVITIES",
                field="changes",
            )
        states.append((item, state))
    for ident in command.withdrawn_item_ids:
        item = items[ident]
        if is_done(item, ident in held):
            raise DomainError(
                f"Пункт «{item.title}» выполнен, исключить его нельзя",
                code="PLAN_ITEM_DONE",
                field="withdrawnItemIds",
            )
    amendment = PlanAmendment(plan_id=plan.id, version=version, author=author, reason=reason)
    session.add(amendment)
    plan.version, plan.updated_at = version, now()
    for item, state in states:
        for name, value in state.values().items():
            setattr(item, name, value)
        session.add(PlanItemRevision(item_id=item.id, version=version, plan_id=plan.id, **state.values()))
    for ident in command.withdrawn_item_ids:
        item = items[ident]
        item.withdrawn_at = amendment.amended_at
        session.add(
            PlanItemRevision(
                item_id=item.id,
                version=version,
                plan_id=plan.id,
                title=item.title,
                kind=item.kind,
                due_on=item.due_on,
                responsible_organization_id=item.responsible_organization_id,
                responsible_person=item.responsible_person,
                expected_result=item.expected_result,
                interaction_group_id=item.interaction_group_id,
                withdrawn=True,
            )
        )
    await session.flush()
    await outbox.record(
        session,
        PlanAmended(
            plan_id=plan.id,
            version=version,
            amended_at=amendment.amended_at,
            author=author,
            reason=reason,
            changed_items=[PlanItemState(item_id=item.id, **state.values()) for item, state in states],
            withdrawn_item_ids=list(command.withdrawn_item_ids),
        ),
        source=SOURCE,
    )
    return plan


# --- reading versions ---------------------------------------------------------------------------


def items_of_version(revisions: Sequence[PlanItemRevision], version: int) -> list[PlanItemRevision]:
    """The items of one version of a plan as they were: of each item its latest revision up to
    that version, unless that revision withdrew it; by due date."""
    latest: dict[uuid.UUID, PlanItemRevision] = {}
    for revision in revisions:
        if revision.version <= version:
            kept = latest.get(revision.item_id)
            if kept is None or kept.version < revision.version:
                latest[revision.item_id] = revision
    shown = [r for r in latest.values() if not r.withdrawn]
    return sorted(shown, key=lambda r: (r.due_on, r.title, str(r.item_id)))
