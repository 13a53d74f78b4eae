"""GraphQL types of the events subgraph; entities resolve by id in batches (one query per request)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

import strawberry
from setka_runtime.graphql import PageInfo, loader, reading
from strawberry.types import Info

from .. import reads
from ..models import Activity as ActivityRow
from ..models import AssessmentResult as AssessmentRow
from ..models import Attendance as AttendanceRow
from ..models import Deficit as DeficitRow
from ..models import Feedback as FeedbackRow
from ..models import Material as MaterialRow
from ..models import Mobility as MobilityRow
from ..models import Plan as PlanRow
from ..models import PlanItem as PlanItemRow
from ..models import Registration as RegistrationRow
from ..models import Training as TrainingRow
from ..models import aware


def to_uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _id(value: uuid.UUID | None) -> strawberry.ID | None:
    return strawberry.ID(str(value)) if value else None


NOTHING = uuid.UUID(int=0)
"""Stands for a filter id that is not a UUID: it matches nothing instead of being ignored."""


def filter_id(value: strawberry.ID | None) -> uuid.UUID | None:
    """A filter's id: None when not given, :data:`NOTHING` when it is not a UUID."""
    return (to_uuid(value) or NOTHING) if value else None


def calendar_filter(
    *,
    network_id: strawberry.ID | None = None,
    host_organization_id: strawberry.ID | None = None,
    participant_organization_id: strawberry.ID | None = None,
    participant_educator_id: strawberry.ID | None = None,
    activity_type: str | None = None,
    status: str | None = None,
    starts_from: datetime | None = None,
    starts_before: datetime | None = None,
) -> reads.CalendarFilter:
    """The calendar's filter from GraphQL arguments (every calendar field filters alike)."""
    return reads.CalendarFilter(
        network_id=filter_id(network_id),
        host_organization_id=filter_id(host_organization_id),
        participant_organization_id=filter_id(participant_organization_id),
        participant_educator_id=filter_id(participant_educator_id),
        activity_type=activity_type,
        status=status,
        starts_from=starts_from,
        starts_before=starts_before,
    )


def by_key_loader(info: Info, name: str, model: Any) -> Any:
    """A per-request loader of rows by id: one query for every id asked in the request."""

    async def load(keys: list[uuid.UUID]) -> list[Any]:
        async with reading(info) as session:
            return await reads.by_ids(session, model, keys)

    return loader(info, name, load)


def per_activity_loader(info: Info, model: Any) -> Any:
    async def load(keys: list[uuid.UUID]) -> list[list[Any]]:
        async with reading(info) as session:
            return await reads.per_activity(session, model, keys)

    return loader(info, f"{model.__tablename__}-per-activity", load)


@strawberry.type
class Material:
    id: strawberry.ID
    title: str
    url: str

    @classmethod
    def of(cls, row: MaterialRow) -> Material:
        return cls(id=strawberry.ID(str(row.id)), title=row.title, url=row.url)


@strawberry.type(description="Someone's taking part in an activity: an educator or a whole organization")
class AttendanceRecord:
    id: strawberry.ID
    activity_id: strawberry.ID
    organization_id: strawberry.ID
    educator_id: strawberry.ID | None
    hours: float
    source_system: str | None

    @classmethod
    def of(cls, row: AttendanceRow) -> AttendanceRecord:
        return cls(
            id=strawberry.ID(str(row.id)),
            activity_id=strawberry.ID(str(row.activity_id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            educator_id=_id(row.educator_id),
            hours=row.hours,
            source_system=row.source_system,
        )

    @strawberry.field
    async def activity(self, info: Info) -> Activity | None:
        row = await by_key_loader(info, "activity", ActivityRow).load(uuid.UUID(self.activity_id))
        return Activity.of(row) if row else None

    @strawberry.field(description="The organization that took part (the registry's)")
    def organization(self) -> Organization:
        return Organization(id=self.organization_id)


@strawberry.type
class RegistrationRecord:
    id: strawberry.ID
    activity_id: strawberry.ID
    organization_id: strawberry.ID
    educator_id: strawberry.ID | None

    @classmethod
    def of(cls, row: RegistrationRow) -> RegistrationRecord:
        return cls(
            id=strawberry.ID(str(row.id)),
            activity_id=strawberry.ID(str(row.activity_id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            educator_id=_id(row.educator_id),
        )

    @strawberry.field(description="The organization that registered (the registry's)")
    def organization(self) -> Organization:
        return Organization(id=self.organization_id)


@strawberry.type
class FeedbackRecord:
    id: strawberry.ID
    rating: int
    comment: str | None

    @classmethod
    def of(cls, row: FeedbackRow) -> FeedbackRecord:
        return cls(id=strawberry.ID(str(row.id)), rating=row.rating, comment=row.comment)


@strawberry.federation.type(keys=["id"], description="An activity (мероприятие) in the calendar")
class Activity:
    id: strawberry.ID
    title: str
    activity_type: str
    processes: list[str]
    format: str
    location: str | None
    host_organization_id: strawberry.ID
    network_id: strawberry.ID | None
    plan_item_id: strawberry.ID | None
    responsible_educator_id: strawberry.ID | None
    starts_at: datetime
    ends_at: datetime
    audience: str | None
    capacity: int | None
    status: str
    status_reason: str | None
    report: str | None
    source_system: str | None
    external_id: str | None

    @classmethod
    def of(cls, row: ActivityRow) -> Activity:
        return cls(
            id=strawberry.ID(str(row.id)),
            title=row.title,
            activity_type=row.activity_type,
            processes=list(row.processes),
            format=row.format,
            location=row.location,
            host_organization_id=strawberry.ID(str(row.host_organization_id)),
            network_id=_id(row.network_id),
            plan_item_id=_id(row.plan_item_id),
            responsible_educator_id=_id(row.responsible_educator_id),
            starts_at=aware(row.starts_at),
            ends_at=aware(row.ends_at),
            audience=row.audience,
            capacity=row.capacity,
            status=row.status,
            status_reason=row.status_reason,
            report=row.report,
            source_system=row.source_system,
            external_id=row.external_id,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Activity | None:
        ident = to_uuid(key["id"])
        row = await by_key_loader(info, "activity", ActivityRow).load(ident) if ident else None
        return cls.of(row) if row else None

    @strawberry.field(description="The organization that hosts it (the registry's)")
    def host(self) -> Organization:
        return Organization(id=self.host_organization_id)

    @strawberry.field(description="The network whose activity it is, if it is one's (the registry's)")
    def network(self) -> Network | None:
        return Network(id=self.network_id) if self.network_id else None

    @strawberry.field
    async def attendance(self, info: Info) -> list[AttendanceRecord]:
        rows = await per_activity_loader(info, AttendanceRow).load(uuid.UUID(self.id))
        return [AttendanceRecord.of(r) for r in rows]

    @strawberry.field
    async def registrations(self, info: Info) -> list[RegistrationRecord]:
        rows = await per_activity_loader(info, RegistrationRow).load(uuid.UUID(self.id))
        return [RegistrationRecord.of(r) for r in rows]

    @strawberry.field
    async def feedback(self, info: Info) -> list[FeedbackRecord]:
        rows = await per_activity_loader(info, FeedbackRow).load(uuid.UUID(self.id))
        return [FeedbackRecord.of(r) for r in rows]

    @strawberry.field(description="Mean rating of the feedback, if any")
    async def mean_rating(self, info: Info) -> float | None:
        rows = await per_activity_loader(info, FeedbackRow).load(uuid.UUID(self.id))
        return round(sum(r.rating for r in rows) / len(rows), 2) if rows else None

    @strawberry.field
    async def materials(self, info: Info) -> list[Material]:
        rows = await per_activity_loader(info, MaterialRow).load(uuid.UUID(self.id))
        return [Material.of(r) for r in rows]


@strawberry.type
class ActivityEdge:
    cursor: str
    node: Activity


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, rows: list[ActivityRow], more: bool) -> ActivityConnection:
        """A page of activities in calendar order, and whether more follow."""
        edges = [ActivityEdge(cursor=reads.encode_cursor(r), node=Activity.of(r)) for r in rows]
        return cls(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        )


async def calendar_page(
    info: Info,
    owner: reads.CalendarOwner,
    key: str,
    where: reads.CalendarFilter,
    *,
    first: int,
    after: str | None,
) -> ActivityConnection:
    """The calendar page of one host or network; every one asked alike in a request is one query."""
    ident = to_uuid(key)
    if ident is None:
        return ActivityConnection.of([], False)

    async def load(keys: list[uuid.UUID]) -> list[tuple[list[ActivityRow], bool]]:
        async with reading(info) as session:
            return await reads.calendars(session, owner, keys, where, first=first, after=after)

    rows, more = await loader(info, f"calendar:{owner}:{where!r}:{first}:{after}", load).load(ident)
    return ActivityConnection.of(rows, more)


@strawberry.federation.type(keys=["id"], description="An item of a joint plan")
class PlanItem:
    id: strawberry.ID
    plan_id: strawberry.ID
    title: str
    due_on: date
    responsible_organization_id: strawberry.ID | None
    responsible_person: str | None
    expected_result: str | None

    @classmethod
    def of(cls, row: PlanItemRow) -> PlanItem:
        return cls(
            id=strawberry.ID(str(row.id)),
            plan_id=strawberry.ID(str(row.plan_id)),
            title=row.title,
            due_on=row.due_on,
            responsible_organization_id=_id(row.responsible_organization_id),
            responsible_person=row.responsible_person,
            expected_result=row.expected_result,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> PlanItem | None:
        ident = to_uuid(key["id"])
        row = await by_key_loader(info, "plan-item", PlanItemRow).load(ident) if ident else None
        return cls.of(row) if row else None

    @strawberry.field
    async def plan(self, info: Info) -> Plan:
        row = await by_key_loader(info, "plan", PlanRow).load(uuid.UUID(self.plan_id))
        if row is None:
            raise LookupError(f"plan {self.plan_id} of item {self.id} is missing")
        return Plan.of(row)

    @strawberry.field(description="The organization responsible for it, if one is (the registry's)")
    def responsible_organization(self) -> Organization | None:
        return Organization(id=self.responsible_organization_id) if self.responsible_organization_id else None

    @strawberry.field(description="The activities that carry out this item")
    async def activities(self, info: Info) -> list[Activity]:
        return [Activity.of(r) for r in await _item_activities(info, self.id)]

    @strawberry.field(description="Done when one of its activities was held or reported")
    async def done(self, info: Info) -> bool:
        return any(r.status in ("held", "reported") for r in await _item_activities(info, self.id))


async def _item_activities(info: Info, item_id: str) -> list[ActivityRow]:
    async def load(keys: list[uuid.UUID]) -> list[list[ActivityRow]]:
        async with reading(info) as session:
            return await reads.activities_of_items(session, keys)

    return await loader(info, "item-activities", load).load(uuid.UUID(item_id))


@strawberry.type
class PlanProgress:
    items: int
    done: int
    overdue: int
    share_done: float


@strawberry.federation.type(keys=["id"], description="A network's joint plan of activities for a year")
class Plan:
    id: strawberry.ID
    network_id: strawberry.ID
    year: int
    title: str
    status: str

    @classmethod
    def of(cls, row: PlanRow) -> Plan:
        return cls(
            id=strawberry.ID(str(row.id)),
            network_id=strawberry.ID(str(row.network_id)),
            year=row.year,
            title=row.title,
            status=row.status,
        )

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Plan | None:
        ident = to_uuid(key["id"])
        row = await by_key_loader(info, "plan", PlanRow).load(ident) if ident else None
        return cls.of(row) if row else None

    async def _items(self, info: Info) -> list[PlanItemRow]:
        async def load(keys: list[uuid.UUID]) -> list[list[PlanItemRow]]:
            async with reading(info) as session:
                return await reads.items_of(session, keys)

        return await loader(info, "plan-items", load).load(uuid.UUID(self.id))

    @strawberry.field(description="The network whose plan it is (the registry's)")
    def network(self) -> Network:
        return Network(id=self.network_id)

    @strawberry.field
    async def items(self, info: Info) -> list[PlanItem]:
        return [PlanItem.of(r) for r in await self._items(info)]

    @strawberry.field
    async def progress(self, info: Info) -> PlanProgress:
        items = await self._items(info)
        done = 0
        overdue = 0
        today = date.today()
        for item in items:
            activities = await _item_activities(info, str(item.id))
            finished = any(a.status in ("held", "reported") for a in activities)
            done += finished
            overdue += (not finished) and item.due_on < today
        return PlanProgress(
            items=len(items),
            done=done,
            overdue=overdue,
            share_done=round(done / len(items), 3) if items else 0.0,
        )


@strawberry.federation.type(keys=["id"])
class Organization:
    """An organization of the registry (which owns it), with the activities it hosts."""

    id: strawberry.ID

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Organization:
        return cls(id=strawberry.ID(str(key["id"])))

    @strawberry.field(
        description="The activities it hosts: its calendar by start time, filtered, a page at a time (≤ 200)"
    )
    async def activities(
        self,
        info: Info,
        network_id: strawberry.ID | None = None,
        activity_type: str | None = None,
        status: str | None = None,
        starts_from: datetime | None = None,
        starts_before: datetime | None = None,
        first: int = 50,
        after: str | None = None,
    ) -> ActivityConnection:
        where = calendar_filter(
            network_id=network_id,
            activity_type=activity_type,
            status=status,
            starts_from=starts_from,
            starts_before=starts_before,
        )
        return await calendar_page(info, "host_organization_id", self.id, where, first=first, after=after)


@strawberry.federation.type(keys=["id"])
class Network:
    """A network of the registry (which owns it), with its plans and its calendar."""

    id: strawberry.ID

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Network:
        return cls(id=strawberry.ID(str(key["id"])))

    @strawberry.field(description="The network's joint plans, newest year first; of `year` if given")
    async def plans(self, info: Info, year: int | None = None) -> list[Plan]:
        ident = to_uuid(self.id)
        if ident is None:
            return []

        async def load(keys: list[uuid.UUID]) -> list[list[PlanRow]]:
            async with reading(info) as session:
                return await reads.plans_of_networks(session, keys, year=year)

        rows = await loader(info, f"network-plans:{year}", load).load(ident)
        return [Plan.of(r) for r in rows]

    @strawberry.field(
        description="The network's activities: its calendar by start time, filtered, a page at a time (≤ 200)"
    )
    async def calendar(
        self,
        info: Info,
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
            host_organization_id=host_organization_id,
            participant_organization_id=participant_organization_id,
            participant_educator_id=participant_educator_id,
            activity_type=activity_type,
            status=status,
            starts_from=starts_from,
            starts_before=starts_before,
        )
        return await calendar_page(info, "network_id", self.id, where, first=first, after=after)


@strawberry.type(description="What an organization or educator took part in")
class Participation:
    activities: int
    hours: float
    attendance: list[AttendanceRecord]


@strawberry.type
class MobilityRecord:
    id: strawberry.ID
    kind: str
    home_organization_id: strawberry.ID
    host_organization_id: strawberry.ID
    network_id: strawberry.ID | None
    programme: str
    participants: int
    starts_on: date
    ends_on: date
    hours: float

    @classmethod
    def of(cls, row: MobilityRow) -> MobilityRecord:
        return cls(
            id=strawberry.ID(str(row.id)),
            kind=row.kind,
            home_organization_id=strawberry.ID(str(row.home_organization_id)),
            host_organization_id=strawberry.ID(str(row.host_organization_id)),
            network_id=_id(row.network_id),
            programme=row.programme,
            participants=row.participants,
            starts_on=row.starts_on,
            ends_on=row.ends_on,
            hours=row.hours,
        )


@strawberry.type(description="A mark and its share of participants")
class MarkShare:
    mark: str
    share: float


@strawberry.type(description="A school's results in ВПР, ОГЭ, ЕГЭ or a regional diagnostic")
class AssessmentResult:
    id: strawberry.ID
    organization_id: strawberry.ID
    procedure: str
    subject: str
    grade: int
    year: int
    participants: int
    mean_score: float
    mark_shares: list[MarkShare]
    source_system: str

    @classmethod
    def of(cls, row: AssessmentRow) -> AssessmentResult:
        return cls(
            id=strawberry.ID(str(row.id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            procedure=row.procedure,
            subject=row.subject,
            grade=row.grade,
            year=row.year,
            participants=row.participants,
            mean_score=row.mean_score,
            mark_shares=[MarkShare(mark=m, share=s) for m, s in sorted(row.mark_shares.items())],
            source_system=row.source_system,
        )


@strawberry.type(description="Professional training an educator completed")
class TrainingRecord:
    id: strawberry.ID
    educator_id: strawberry.ID
    organization_id: strawberry.ID
    course: str
    provider: str
    hours: int
    completed_on: date
    source_system: str
    external_id: str

    @classmethod
    def of(cls, row: TrainingRow) -> TrainingRecord:
        return cls(
            id=strawberry.ID(str(row.id)),
            educator_id=strawberry.ID(str(row.educator_id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            course=row.course,
            provider=row.provider,
            hours=row.hours,
            completed_on=row.completed_on,
            source_system=row.source_system,
            external_id=row.external_id,
        )


@strawberry.type(description="A diagnosed professional deficit of an educator")
class DeficitRecord:
    id: strawberry.ID
    educator_id: strawberry.ID
    organization_id: strawberry.ID
    competency: str
    level: str
    diagnosed_on: date
    source_system: str
    external_id: str

    @classmethod
    def of(cls, row: DeficitRow) -> DeficitRecord:
        return cls(
            id=strawberry.ID(str(row.id)),
            educator_id=strawberry.ID(str(row.educator_id)),
            organization_id=strawberry.ID(str(row.organization_id)),
            competency=row.competency,
            level=row.level,
            diagnosed_on=row.diagnosed_on,
            source_system=row.source_system,
            external_id=row.external_id,
        )
