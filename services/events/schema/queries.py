"""Queries of the events subgraph: the calendar, plans, participation, regional facts."""

from __future__ import annotations

from datetime import datetime

import strawberry
from setka_runtime.deferred import deferred
from setka_runtime.graphql import reading
from sqlalchemy import func, select
from strawberry.types import Info

from .. import reads
from ..models import Activity as ActivityRow
from ..models import AssessmentResult as AssessmentRow
from ..models import Deficit as DeficitRow
from ..models import KnownEducator, KnownMembership, KnownNetwork, KnownOrganization
from ..models import Mobility as MobilityRow
from ..models import Plan as PlanRow
from ..models import Training as TrainingRow
from .types import (
    Activity,
    ActivityConnection,
    AssessmentResult,
    AttendanceRecord,
    DeficitRecord,
    MobilityRecord,
    Participation,
    Plan,
    TrainingRecord,
    calendar_filter,
    filter_id,
    to_uuid,
)


@strawberry.type
class EventsStatus:
    known_organizations: int = strawberry.field(
        description="Organizations this service has learned of from the registry's events"
    )
    known_networks: int
    known_memberships: int = strawberry.field(description="Memberships of networks, current and ended")
    known_educators: int = strawberry.field(description="Educators (ids and subjects only)")
    waiting_messages: int = strawberry.field(
        description="Inbound messages waiting for something they refer to (an organization, an activity)"
    )


@strawberry.type
class Query:
    @strawberry.field
    async def events_status(self, info: Info) -> EventsStatus:
        async with reading(info) as session:
            organizations = await session.scalar(select(func.count()).select_from(KnownOrganization))
            networks = await session.scalar(select(func.count()).select_from(KnownNetwork))
            memberships = await session.scalar(select(func.count()).select_from(KnownMembership))
            educators = await session.scalar(select(func.count()).select_from(KnownEducator))
            waiting = await session.scalar(select(func.count()).select_from(deferred))
        return EventsStatus(
            known_organizations=organizations or 0,
            known_networks=networks or 0,
            known_memberships=memberships or 0,
            known_educators=educators or 0,
            waiting_messages=waiting or 0,
        )

    @strawberry.field(
        description="The calendar: activities by start time, filtered, a page at a time (≤ 200)"
    )
    async def activities(
        self,
        info: Info,
        network_id: strawberry.ID | None = None,
        host_organization_id: strawberry.ID | None = None,
        participant_organization_id: strawberry.ID | None = None,
        participant_educator_id: strawberry.ID | None = None,
        activity_type: str | None = None,
        status: str | None = None,
        starts_from: datetime | None = None,
        starts_before: datetime | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> ActivityConnection:
        where = calendar_filter(
            network_id=network_id,
            host_organization_id=host_organization_id,
            participant_organization_id=participant_organization_id,
            participant_educator_id=participant_educator_id,
            activity_type=activity_type,
            status=status,
            starts_from=starts_from,
            starts_before=starts_before,
        )
        async with reading(info) as session:
            rows, more = await reads.calendar(session, where, first=first, after=after)
        return ActivityConnection.of(rows, more)

    @strawberry.field
    async def activity(self, info: Info, id: strawberry.ID) -> Activity | None:
        ident = to_uuid(id)
        if ident is None:
            return None
        async with reading(info) as session:
            row = await session.get(ActivityRow, ident)
        return Activity.of(row) if row else None

    @strawberry.field(description="Joint plans, newest year first")
    async def plans(
        self, info: Info, network_id: strawberry.ID | None = None, year: int | None = None
    ) -> list[Plan]:
        async with reading(info) as session:
            rows = await reads.plans(session, network_id=filter_id(network_id), year=year)
        return [Plan.of(r) for r in rows]

    @strawberry.field
    async def plan(self, info: Info, id: strawberry.ID) -> Plan | None:
        ident = to_uuid(id)
        if ident is None:
            return None
        async with reading(info) as session:
            row = await session.get(PlanRow, ident)
        return Plan.of(row) if row else None

    @strawberry.field(description="What an organization or an educator took part in, and for how many hours")
    async def participation(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        educator_id: strawberry.ID | None = None,
    ) -> Participation:
        async with reading(info) as session:
            rows = await reads.attendance_of(
                session,
                organization_id=filter_id(organization_id),
                educator_id=filter_id(educator_id),
            )
        return Participation(
            activities=len({r.activity_id for r in rows}),
            hours=round(sum(r.hours for r in rows), 2),
            attendance=[AttendanceRecord.of(r) for r in rows],
        )

    @strawberry.field
    async def mobility(self, info: Info, network_id: strawberry.ID | None = None) -> list[MobilityRecord]:
        async with reading(info) as session:
            rows = await reads.facts(session, MobilityRow, network_id=filter_id(network_id))
        return [MobilityRecord.of(r) for r in rows]

    @strawberry.field(description="Assessment results per school (ВПР, ОГЭ, ЕГЭ, regional diagnostics)")
    async def assessment_results(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        year: int | None = None,
        procedure: str | None = None,
    ) -> list[AssessmentResult]:
        async with reading(info) as session:
            rows = await reads.facts(
                session,
                AssessmentRow,
                organization_id=filter_id(organization_id),
                year=year,
                procedure=procedure,
            )
        return [AssessmentResult.of(r) for r in rows]

    @strawberry.field(description="Completed professional training of educators")
    async def trainings(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        educator_id: strawberry.ID | None = None,
    ) -> list[TrainingRecord]:
        async with reading(info) as session:
            rows = await reads.facts(
                session,
                TrainingRow,
                organization_id=filter_id(organization_id),
                educator_id=filter_id(educator_id),
            )
        return [TrainingRecord.of(r) for r in rows]

    @strawberry.field(description="Diagnosed professional deficits of educators")
    async def deficits(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        educator_id: strawberry.ID | None = None,
    ) -> list[DeficitRecord]:
        async with reading(info) as session:
            rows = await reads.facts(
                session,
                DeficitRow,
                organization_id=filter_id(organization_id),
                educator_id=filter_id(educator_id),
            )
        return [DeficitRecord.of(r) for r in rows]
