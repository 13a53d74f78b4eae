"""Joint plans of a network (совместный план деятельности): draft → agreed → in progress → closed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from setka_contracts.events import PlanAgreed, PlanClosed, PlanDrafted, PlanItemAdded, PlanStarted, PlanStatus
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .common import SOURCE, check_text, known_network, known_organization, optional_text
from .models import Plan, PlanItem, now

NEXT_STATUS = {
    PlanStatus.draft: PlanStatus.agreed,
    PlanStatus.agreed: PlanStatus.in_progress,
    PlanStatus.in_progress: PlanStatus.closed,
}


@dataclass(frozen=True)
class DraftPlan:
    network_id: uuid.UUID
    year: int
    title: str


@dataclass(frozen=True)
class AddPlanItem:
    plan_id: uuid.UUID
    title: str
    due_on: date
    responsible_organization_id: uuid.UUID | None = None
    responsible_person: str | None = None
    expected_result: str | None = None


async def get_plan(session: AsyncSession, plan_id: uuid.UUID) -> Plan:
    plan = await session.get(Plan, plan_id, with_for_update=True)
    if plan is None:
        raise DomainError(f"plan {plan_id} does not exist", field="planId")
    return plan


async def draft_plan(session: AsyncSession, command: DraftPlan) -> Plan:
    await known_network(session, command.network_id)
    if not 2000 <= command.year <= 2100:
        raise DomainError("year must be between 2000 and 2100", field="year")
    existing = await session.scalar(
        select(Plan.id).where(Plan.network_id == command.network_id, Plan.year == command.year)
    )
    if existing:
        raise DomainError(f"the network already has a plan for {command.year}", field="year")
    plan = Plan(
        network_id=command.network_id,
        year=command.year,
        title=check_text(command.title, field="title", limit=500),
    )
    session.add(plan)
    await session.flush()
    await outbox.record(
        session,
        PlanDrafted(plan_id=plan.id, network_id=plan.network_id, year=plan.year, title=plan.title),
        source=SOURCE,
    )
    return plan


async def add_plan_item(session: AsyncSession, command: AddPlanItem) -> PlanItem:
    plan = await get_plan(session, command.plan_id)
    if plan.status != PlanStatus.draft:
        raise DomainError(f"items are added to a draft plan; this one is {plan.status}", field="planId")
    if command.due_on.year != plan.year:
        raise DomainError(f"the item must be due within {plan.year}", field="dueOn")
    if command.responsible_organization_id:
        await known_organization(
            session, command.responsible_organization_id, field="responsibleOrganizationId"
        )
    item = PlanItem(
        plan_id=plan.id,
        title=check_text(command.title, field="title", limit=500),
        due_on=command.due_on,
        responsible_organization_id=command.responsible_organization_id,
        responsible_person=optional_text(command.responsible_person, field="responsiblePerson", limit=200),
        expected_result=optional_text(command.expected_result, field="expectedResult", limit=1000),
    )
    session.add(item)
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
        ),
        source=SOURCE,
    )
    return item


async def advance_plan(session: AsyncSession, plan_id: uuid.UUID, to: PlanStatus) -> Plan:
    """Move a plan one step along its lifecycle; any other move is refused."""
    plan = await get_plan(session, plan_id)
    current = PlanStatus(plan.status)
    if NEXT_STATUS.get(current) != to:
        raise DomainError(f"a plan that is {current} cannot become {to}", field="planId")
    if to == PlanStatus.agreed:
        items = await session.scalar(
            select(func.count()).select_from(PlanItem).where(PlanItem.plan_id == plan.id)
        )
        if not items:
            raise DomainError("a plan without items cannot be agreed", field="planId")
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
