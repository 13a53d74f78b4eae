"""Mutations of the events subgraph: the whole lifecycle of plans and activities.

Each returns its entity or a :class:`ValidationError` naming the input at fault; a refused
mutation changes nothing (its transaction is rolled back).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Annotated, Any, TypeVar

import strawberry
from setka_contracts.events import PlanStatus
from setka_runtime.errors import DomainError
from setka_runtime.graphql import ValidationError, transaction
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from .. import activities, mobility, participation, plans
from .types import (
    Activity,
    AttendanceRecord,
    FeedbackRecord,
    Material,
    MobilityRecord,
    Plan,
    PlanItem,
    RegistrationRecord,
)

T = TypeVar("T")

PlanResult = Annotated[Plan | ValidationError, strawberry.union("PlanResult")]
PlanItemResult = Annotated[PlanItem | ValidationError, strawberry.union("PlanItemResult")]
ActivityResult = Annotated[Activity | ValidationError, strawberry.union("ActivityResult")]
MaterialResult = Annotated[Material | ValidationError, strawberry.union("MaterialResult")]
RegistrationResult = Annotated[RegistrationRecord | ValidationError, strawberry.union("RegistrationResult")]
AttendanceResult = Annotated[AttendanceRecord | ValidationError, strawberry.union("AttendanceResult")]
FeedbackResult = Annotated[FeedbackRecord | ValidationError, strawberry.union("FeedbackResult")]
MobilityResult = Annotated[MobilityRecord | ValidationError, strawberry.union("MobilityResult")]


def _uuid(value: strawberry.ID | None, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise DomainError("not a valid id", field=field) from None


def _optional_uuid(value: strawberry.ID | None, field: str) -> uuid.UUID | None:
    return _uuid(value, field) if value else None


async def _apply(
    info: Info, change: Callable[[AsyncSession], Awaitable[T]], present: Callable[[T], Any]
) -> Any:
    try:
        async with transaction(info) as session:
            result = await change(session)
    except DomainError as error:
        return ValidationError.of(error)
    return present(result)


@strawberry.input
class PlanActivityInput:
    title: str
    activity_type: str
    format: str
    host_organization_id: strawberry.ID
    starts_at: datetime
    ends_at: datetime
    network_id: strawberry.ID | None = None
    processes: list[str] = strawberry.field(default_factory=list)
    location: str | None = strawberry.field(default=None, description="Address, or the link of a remote one")
    plan_item_id: strawberry.ID | None = None
    responsible_educator_id: strawberry.ID | None = None
    audience: str | None = None
    capacity: int | None = None


@strawberry.input
class AddPlanItemInput:
    plan_id: strawberry.ID
    title: str
    due_on: date
    responsible_organization_id: strawberry.ID | None = None
    responsible_person: str | None = None
    expected_result: str | None = None


@strawberry.input
class RecordMobilityInput:
    kind: str
    home_organization_id: strawberry.ID
    host_organization_id: strawberry.ID
    programme: str
    participants: int
    starts_on: date
    ends_on: date
    hours: float
    network_id: strawberry.ID | None = None


def _participant(
    organization_id: strawberry.ID, educator_id: strawberry.ID | None
) -> participation.Participant:
    return participation.Participant(
        _uuid(organization_id, "organizationId"), _optional_uuid(educator_id, "educatorId")
    )


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Start a network's joint plan for a year, as a draft")
    async def draft_plan(self, info: Info, network_id: strawberry.ID, year: int, title: str) -> PlanResult:
        async def change(session: AsyncSession) -> Any:
            command = plans.DraftPlan(network_id=_uuid(network_id, "networkId"), year=year, title=title)
            return await plans.draft_plan(session, command)

        return await _apply(info, change, Plan.of)

    @strawberry.mutation(description="Add an item to a draft plan")
    async def add_plan_item(self, info: Info, input: AddPlanItemInput) -> PlanItemResult:
        async def change(session: AsyncSession) -> Any:
            command = plans.AddPlanItem(
                plan_id=_uuid(input.plan_id, "planId"),
                title=input.title,
                due_on=input.due_on,
                responsible_organization_id=_optional_uuid(
                    input.responsible_organization_id, "responsibleOrganizationId"
                ),
                responsible_person=input.responsible_person,
                expected_result=input.expected_result,
            )
            return await plans.add_plan_item(session, command)

        return await _apply(info, change, PlanItem.of)

    async def _advance(self, info: Info, plan_id: strawberry.ID, to: PlanStatus) -> Any:
        async def change(session: AsyncSession) -> Any:
            return await plans.advance_plan(session, _uuid(plan_id, "planId"), to)

        return await _apply(info, change, Plan.of)

    @strawberry.mutation(description="draft → agreed")
    async def agree_plan(self, info: Info, plan_id: strawberry.ID) -> PlanResult:
        return await self._advance(info, plan_id, PlanStatus.agreed)

    @strawberry.mutation(description="agreed → in progress")
    async def start_plan(self, info: Info, plan_id: strawberry.ID) -> PlanResult:
        return await self._advance(info, plan_id, PlanStatus.in_progress)

    @strawberry.mutation(description="in progress → closed")
    async def close_plan(self, info: Info, plan_id: strawberry.ID) -> PlanResult:
        return await self._advance(info, plan_id, PlanStatus.closed)

    @strawberry.mutation(description="Put an activity in the calendar (planned)")
    async def plan_activity(self, info: Info, input: PlanActivityInput) -> ActivityResult:
        async def change(session: AsyncSession) -> Any:
            command = activities.PlanActivity(
                title=input.title,
                activity_type=input.activity_type,
                format=input.format,
                host_organization_id=_uuid(input.host_organization_id, "hostOrganizationId"),
                starts_at=input.starts_at,
                ends_at=input.ends_at,
                network_id=_optional_uuid(input.network_id, "networkId"),
                processes=list(input.processes),
                location=input.location,
                plan_item_id=_optional_uuid(input.plan_item_id, "planItemId"),
                responsible_educator_id=_optional_uuid(
                    input.responsible_educator_id, "responsibleEducatorId"
                ),
                audience=input.audience,
                capacity=input.capacity,
            )
            return await activities.plan_activity(session, command)

        return await _apply(info, change, Activity.of)

    @strawberry.mutation(description="planned or postponed → announced")
    async def announce_activity(self, info: Info, activity_id: strawberry.ID) -> ActivityResult:
        async def change(session: AsyncSession) -> Any:
            return await activities.announce(session, _uuid(activity_id, "activityId"))

        return await _apply(info, change, Activity.of)

    @strawberry.mutation(description="→ held; not before the activity starts")
    async def hold_activity(self, info: Info, activity_id: strawberry.ID) -> ActivityResult:
        async def change(session: AsyncSession) -> Any:
            return await activities.hold(session, _uuid(activity_id, "activityId"))

        return await _apply(info, change, Activity.of)

    @strawberry.mutation(description="held → reported, with the report")
    async def report_activity(self, info: Info, activity_id: strawberry.ID, report: str) -> ActivityResult:
        async def change(session: AsyncSession) -> Any:
            return await activities.report(session, _uuid(activity_id, "activityId"), report)

        return await _apply(info, change, Activity.of)

    @strawberry.mutation(description="→ cancelled, with the reason")
    async def cancel_activity(self, info: Info, activity_id: strawberry.ID, reason: str) -> ActivityResult:
        async def change(session: AsyncSession) -> Any:
            return await activities.cancel(session, _uuid(activity_id, "activityId"), reason)

        return await _apply(info, change, Activity.of)

    @strawberry.mutation(description="→ postponed, with the reason and the new dates if known")
    async def postpone_activity(
        self,
        info: Info,
        activity_id: strawberry.ID,
        reason: str,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> ActivityResult:
        async def change(session: AsyncSession) -> Any:
            return await activities.postpone(
                session, _uuid(activity_id, "activityId"), reason, starts_at=starts_at, ends_at=ends_at
            )

        return await _apply(info, change, Activity.of)

    @strawberry.mutation(description="Attach a material (a link) to an activity")
    async def add_material(
        self, info: Info, activity_id: strawberry.ID, title: str, url: str
    ) -> MaterialResult:
        async def change(session: AsyncSession) -> Any:
            return await activities.add_material(session, _uuid(activity_id, "activityId"), title, url)

        return await _apply(info, change, Material.of)

    @strawberry.mutation(description="Register an educator, or a whole organization, for an activity")
    async def register_participant(
        self,
        info: Info,
        activity_id: strawberry.ID,
        organization_id: strawberry.ID,
        educator_id: strawberry.ID | None = None,
    ) -> RegistrationResult:
        async def change(session: AsyncSession) -> Any:
            activity = await activities.get_activity(session, _uuid(activity_id, "activityId"))
            return await participation.register(session, activity, _participant(organization_id, educator_id))

        return await _apply(info, change, RegistrationRecord.of)

    @strawberry.mutation(description="Record who took part in a held activity, and for how many hours")
    async def record_attendance(
        self,
        info: Info,
        activity_id: strawberry.ID,
        organization_id: strawberry.ID,
        hours: float,
        educator_id: strawberry.ID | None = None,
    ) -> AttendanceResult:
        async def change(session: AsyncSession) -> Any:
            activity = await activities.get_activity(session, _uuid(activity_id, "activityId"))
            row, _ = await participation.record_attendance(
                session, activity, _participant(organization_id, educator_id), hours
            )
            return row

        return await _apply(info, change, AttendanceRecord.of)

    @strawberry.mutation(description="Rate a held activity from 1 to 5, with a comment")
    async def give_feedback(
        self,
        info: Info,
        activity_id: strawberry.ID,
        rating: int,
        comment: str | None = None,
        organization_id: strawberry.ID | None = None,
    ) -> FeedbackResult:
        async def change(session: AsyncSession) -> Any:
            activity = await activities.get_activity(session, _uuid(activity_id, "activityId"))
            return await participation.give_feedback(
                session,
                activity,
                rating,
                comment,
                organization_id=_optional_uuid(organization_id, "organizationId"),
            )

        return await _apply(info, change, FeedbackRecord.of)

    @strawberry.mutation(description="Record students or teachers working at a partner's premises")
    async def record_mobility(self, info: Info, input: RecordMobilityInput) -> MobilityResult:
        async def change(session: AsyncSession) -> Any:
            command = mobility.RecordMobility(
                kind=input.kind,
                home_organization_id=_uuid(input.home_organization_id, "homeOrganizationId"),
                host_organization_id=_uuid(input.host_organization_id, "hostOrganizationId"),
                programme=input.programme,
                participants=input.participants,
                starts_on=input.starts_on,
                ends_on=input.ends_on,
                hours=input.hours,
                network_id=_optional_uuid(input.network_id, "networkId"),
            )
            return await mobility.record_mobility(session, command)

        return await _apply(info, change, MobilityRecord.of)
