"""Queries of the events subgraph: the calendar, plans, meetings, participation, regional facts."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import strawberry
from setka_runtime.access import PERSONAL_DATA
from setka_runtime.deferred import deferred
from setka_runtime.graphql import identity, paged, reading, sized
from setka_runtime.graphql_derive import domain_values
from sqlalchemy import and_, func, select
from sqlmodel import col
from strawberry.types import Info

from .. import models as m
from .. import reads, scopes
from .types import (
    MEETINGS,
    Activity,
    ActivityConnection,
    AssessmentResult,
    AttendanceRecord,
    DeficitRecord,
    Meeting,
    MeetingDecision,
    MobilityRecord,
    Participation,
    Plan,
    TrainingRecord,
    calendar_filtered,
    check_calendar,
    check_educator,
    filter_id,
    network_meetings,
)

PERSONAL = [[PERSONAL_DATA]]
FACTS_ASSUMED = 500
"""How many facts (trainings, deficits, results, mobility) an unpaged list is taken to hold."""
"""``@policy`` of a field of personal data (educators'), whose rows are also kept to the scope."""


def _facts(
    model: Any, present: Callable[[Any], Any], *, personal: bool = False, kept: Any = None
) -> Callable[[Callable[..., Any]], Callable[..., Awaitable[Any]]]:
    """A list of facts of ``model`` by id: the arguments are read by name as its columns (an id
    that is not one matches nothing). Facts about educators (``personal``) are only those of the
    organizations in the caller's scope; ``kept``, if given, is the condition of the facts that
    still count (a mobility deleted as a mistake does not).

    The decorated function declares the arguments as GraphQL shows them; its body never runs.
    """

    def wrap(arguments: Callable[..., Any]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(arguments)
        async def resolve(root: Any, info: Info, **given: Any) -> list[Any]:
            visible = scopes.personal_data(identity(info), model.organization_id) if personal else None
            if kept is not None:
                visible = kept if visible is None else and_(visible, kept)
            where = domain_values(model, given, read_id=filter_id)
            async with reading(info) as session:
                rows = await reads.facts(session, model, visible, **where)
            return [present(r) for r in rows]

        return resolve

    return wrap


@strawberry.type
class EventsStatus:
    known_organizations: int = strawberry.field(
        description="Organizations this service has learned of from the registry's events"
    )
    known_networks: int
    known_memberships: int = strawberry.field(description="Memberships of networks, current and ended")
    known_educators: int = strawberry.field(description="Educators (ids and subjects only)")
    known_interaction_groups: int = strawberry.field(description="Interaction groups (ids and networks)")
    waiting_messages: int = strawberry.field(
        description="Inbound messages waiting for something they refer to (an organization, an activity)"
    )


@strawberry.type
class Query:
    @strawberry.field
    async def events_status(self, info: Info) -> EventsStatus:
        tables = (
            m.KnownOrganization,
            m.KnownNetwork,
            m.KnownMembership,
            m.KnownEducator,
            m.KnownInteractionGroup,
            deferred,
        )
        async with reading(info) as session:
            counts = [await session.scalar(select(func.count()).select_from(t)) or 0 for t in tables]
        organizations, networks, memberships, educators, groups, waiting = counts
        return EventsStatus(
            known_organizations=organizations,
            known_networks=networks,
            known_memberships=memberships,
            known_educators=educators,
            known_interaction_groups=groups,
            waiting_messages=waiting,
        )

    @strawberry.field(
        description="The calendar: activities by start time, filtered, a page at a time (≤ 200)",
        directives=paged(),
    )
    @calendar_filtered()
    async def activities(
        self, info: Info, where: reads.CalendarFilter, first: int = 50, after: str | None = None
    ) -> ActivityConnection:
        await check_calendar(info, where)
        async with reading(info) as session:
            rows, more = await reads.calendar(
                session, where, first=first, after=after, visible=Activity.visible(info)
            )
        return ActivityConnection.of(rows, more)

    @strawberry.field
    async def activity(self, info: Info, id: strawberry.ID) -> Activity | None:
        return await Activity.load(info, id)

    @strawberry.field(description="Joint plans, newest year first")
    async def plans(
        self, info: Info, network_id: strawberry.ID | None = None, year: int | None = None
    ) -> list[Plan]:
        async with reading(info) as session:
            rows = await reads.plans(
                session, network_id=filter_id(network_id), year=year, visible=Plan.visible(info)
            )
        return [Plan.of(r) for r in rows]

    @strawberry.field
    async def plan(self, info: Info, id: strawberry.ID) -> Plan | None:
        return await Plan.load(info, id)

    @strawberry.field(description=MEETINGS)
    async def meetings(
        self, info: Info, network_id: strawberry.ID, status: str | None = None
    ) -> list[Meeting]:
        return await network_meetings(info, network_id, status)

    @strawberry.field(description="A meeting, if the caller sees it")
    async def meeting(self, info: Info, id: strawberry.ID) -> Meeting | None:
        return await Meeting.load(info, id)

    @strawberry.field(
        description="Decisions of the meetings the caller sees, due by `dueBy` (any date if not"
        " given), of one network if given; soonest first"
    )
    async def decisions_due(
        self, info: Info, network_id: strawberry.ID | None = None, due_by: date | None = None
    ) -> list[MeetingDecision]:
        async with reading(info) as session:
            rows = await reads.decisions_due(
                session, network_id=filter_id(network_id), due_by=due_by, visible=Meeting.visible(info)
            )
        return [MeetingDecision.of(r) for r in rows]

    @strawberry.field(
        description="What an organization or an educator took part in, and for how many hours; an"
        " educator's only for the personal-data roles in their scope"
    )
    async def participation(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        educator_id: strawberry.ID | None = None,
    ) -> Participation:
        await check_educator(info, filter_id(educator_id), what="the participation of an educator")
        async with reading(info) as session:
            rows = await reads.attendance_of(
                session, organization_id=filter_id(organization_id), educator_id=filter_id(educator_id)
            )
        return Participation(
            activities=len({r.activity_id for r in rows}),
            hours=round(sum(r.hours for r in rows), 2),
            attendance=[AttendanceRecord.of(r) for r in rows],
        )

    @strawberry.field(directives=sized(FACTS_ASSUMED))
    @_facts(m.Mobility, MobilityRecord.of, kept=col(m.Mobility.deleted_at).is_(None))
    async def mobility(self, info: Info, network_id: strawberry.ID | None = None) -> list[MobilityRecord]: ...

    @strawberry.field(
        description="Assessment results per school (ВПР, ОГЭ, ЕГЭ, regional diagnostics)",
        directives=sized(FACTS_ASSUMED),
    )
    @_facts(m.AssessmentResult, AssessmentResult.of)
    async def assessment_results(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        year: int | None = None,
        procedure: str | None = None,
    ) -> list[AssessmentResult]: ...

    @strawberry.federation.field(
        description="Completed professional training of educators (personal data: those in your scope)",
        policy=PERSONAL,
        directives=sized(FACTS_ASSUMED),
    )
    @_facts(m.Training, TrainingRecord.of, personal=True)
    async def trainings(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        educator_id: strawberry.ID | None = None,
    ) -> list[TrainingRecord]: ...

    @strawberry.federation.field(
        description="Diagnosed professional deficits of educators (personal data: those in your scope)",
        policy=PERSONAL,
        directives=sized(FACTS_ASSUMED),
    )
    @_facts(m.Deficit, DeficitRecord.of, personal=True)
    async def deficits(
        self,
        info: Info,
        organization_id: strawberry.ID | None = None,
        educator_id: strawberry.ID | None = None,
    ) -> list[DeficitRecord]: ...
