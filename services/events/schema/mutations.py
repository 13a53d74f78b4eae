"""Mutations of the events subgraph: the whole lifecycle of plans and activities.

Each returns its entity or a :class:`ValidationError` naming the input at fault; a refused
mutation changes nothing (its transaction is rolled back). Each is one ``run_command`` call.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, TypeVar

import strawberry
from setka_contracts.events import PlanStatus
from setka_runtime.graphql import ValidationError, require_id, run_command
from setka_runtime.graphql_derive import CommandInput
from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.types import Info

from .. import activities, mobility, participation, plans
from .. import models as m
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

R = TypeVar("R")

PlanResult = Annotated[Plan | ValidationError, strawberry.union("PlanResult")]
PlanItemResult = Annotated[PlanItem | ValidationError, strawberry.union("PlanItemResult")]
ActivityResult = Annotated[Activity | ValidationError, strawberry.union("ActivityResult")]
MaterialResult = Annotated[Material | ValidationError, strawberry.union("MaterialResult")]
RegistrationResult = Annotated[RegistrationRecord | ValidationError, strawberry.union("RegistrationResult")]
AttendanceResult = Annotated[AttendanceRecord | ValidationError, strawberry.union("AttendanceResult")]
FeedbackResult = Annotated[FeedbackRecord | ValidationError, strawberry.union("FeedbackResult")]
MobilityResult = Annotated[MobilityRecord | ValidationError, strawberry.union("MobilityResult")]


@strawberry.input
class PlanActivityInput(
    CommandInput,
    command=activities.PlanActivity,
    describe={"location": "Address, or the link of a remote one"},
):
    pass


@strawberry.input
class AddPlanItemInput(CommandInput, command=plans.AddPlanItem):
    pass


@strawberry.input
class RecordMobilityInput(CommandInput, command=mobility.RecordMobility):
    pass


def _advance(plan_id: strawberry.ID, to: PlanStatus) -> Callable[[AsyncSession], Awaitable[m.Plan]]:
    return lambda s: plans.advance_plan(s, require_id(plan_id, "planId"), to)


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


@strawberry.type
class Mutation:
    @strawberry.mutation(description="Start a network's joint plan for a year, as a draft")
    async def draft_plan(self, info: Info, network_id: strawberry.ID, year: int, title: str) -> PlanResult:
        return await run_command(
            info,
            Plan.of,
            lambda s: plans.draft_plan(s, plans.DraftPlan(require_id(network_id, "networkId"), year, title)),
        )

    @strawberry.mutation(description="Add an item to a draft plan")
    async def add_plan_item(self, info: Info, input: AddPlanItemInput) -> PlanItemResult:
        return await run_command(info, PlanItem.of, lambda s: plans.add_plan_item(s, input.to_command()))

    @strawberry.mutation(description="draft → agreed")
    async def agree_plan(self, info: Info, plan_id: strawberry.ID) -> PlanResult:
        return await run_command(info, Plan.of, _advance(plan_id, PlanStatus.agreed))

    @strawberry.mutation(description="agreed → in progress")
    async def start_plan(self, info: Info, plan_id: strawberry.ID) -> PlanResult:
        return await run_command(info, Plan.of, _advance(plan_id, PlanStatus.in_progress))

    @strawberry.mutation(description="in progress → closed")
    async def close_plan(self, info: Info, plan_id: strawberry.ID) -> PlanResult:
        return await run_command(info, Plan.of, _advance(plan_id, PlanStatus.closed))

    @strawberry.mutation(description="Put an activity in the calendar (planned)")
    async def plan_activity(self, info: Info, input: PlanActivityInput) -> ActivityResult:
        return await run_command(info, Activity.of, lambda s: activities.plan_activity(s, input.to_command()))

    @strawberry.mutation(description="planned or postponed → announced")
    async def announce_activity(self, info: Info, activity_id: strawberry.ID) -> ActivityResult:
        return await run_command(
            info, Activity.of, lambda s: activities.announce(s, require_id(activity_id, "activityId"))
        )

    @strawberry.mutation(description="→ held; not before the activity starts")
    async def hold_activity(self, info: Info, activity_id: strawberry.ID) -> ActivityResult:
        return await run_command(
            info, Activity.of, lambda s: activities.hold(s, require_id(activity_id, "activityId"))
        )

    @strawberry.mutation(description="held → reported, with the report")
    async def report_activity(self, info: Info, activity_id: strawberry.ID, report: str) -> ActivityResult:
        return await run_command(
            info, Activity.of, lambda s: activities.report(s, require_id(activity_id, "activityId"), report)
        )

    @strawberry.mutation(description="→ cancelled, with the reason")
    async def cancel_activity(self, info: Info, activity_id: strawberry.ID, reason: str) -> ActivityResult:
        return await run_command(
            info, Activity.of, lambda s: activities.cancel(s, require_id(activity_id, "activityId"), reason)
        )

    @strawberry.mutation(description="→ postponed, with the reason and the new dates if known")
    async def postpone_activity(
        self,
        info: Info,
        activity_id: strawberry.ID,
        reason: str,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> ActivityResult:
        return await run_command(
            info,
            Activity.of,
            lambda s: activities.postpone(
                s, require_id(activity_id, "activityId"), reason, starts_at=starts_at, ends_at=ends_at
            ),
        )

    @strawberry.mutation(description="Attach a material (a link) to an activity")
    async def add_material(
        self, info: Info, activity_id: strawberry.ID, title: str, url: str
    ) -> MaterialResult:
        return await run_command(
            info,
            Material.of,
            lambda s: activities.add_material(s, require_id(activity_id, "activityId"), title, url),
        )

    @strawberry.mutation(description="Register an educator, or a whole organization, for an activity")
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
        )

    @strawberry.mutation(description="Record who took part in a held activity, and for how many hours")
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
        )

    @strawberry.mutation(description="Rate a held activity from 1 to 5, with a comment")
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
        )

    @strawberry.mutation(description="Record students or teachers working at a partner's premises")
    async def record_mobility(self, info: Info, input: RecordMobilityInput) -> MobilityResult:
        return await run_command(
            info, MobilityRecord.of, lambda s: mobility.record_mobility(s, input.to_command())
        )
