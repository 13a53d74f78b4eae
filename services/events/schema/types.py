"""GraphQL types of the events subgraph; entities resolve by id in batches (one query per request).

Types take their fields from the models (``setka_runtime.graphql_derive``); what a type adds —
references to the registry's entities, lists, figures — are its resolvers.
"""

from __future__ import annotations

import functools
import uuid
from datetime import date
from typing import Any, Self

import strawberry
from setka_runtime.graphql import ForeignEntity, PageInfo, batched, identity, paged, reading, to_uuid
from setka_runtime.graphql_derive import ModelType, filtered
from setka_runtime.moments import aware
from strawberry.types import Info

from .. import models as m
from .. import reads, scopes

NOTHING = uuid.UUID(int=0)
"""Stands for a filter id that is not a UUID: it matches nothing instead of being ignored."""


def filter_id(value: object, field: str = "") -> uuid.UUID | None:
    """A filter's id: None when not given, :data:`NOTHING` when it is not a UUID; never refused,
    so ``field`` (which names the argument at fault) goes unused."""
    return (to_uuid(value) or NOTHING) if value else None


calendar_filtered = functools.partial(filtered, reads.CalendarFilter, read_id=filter_id)
"""A calendar field: its arguments are the calendar filter's fields (but those excluded)."""


async def of_activity(info: Info, model: Any, activity_id: str) -> list[Any]:
    """The rows of ``model`` that belong to an activity; every activity of the request in one query."""
    return await batched(
        info,
        f"{model.__tablename__}-per-activity",
        lambda session, keys: reads.per_activity(session, model, keys),
        uuid.UUID(activity_id),
    )


class Entity(ModelType):
    """A type with ``@key(fields: "id")``: found by id in batches, for resolvers and for the gateway."""

    @classmethod
    def visible(cls, info: Info) -> reads.Visible:
        """Which of its rows the caller sees (see :mod:`services.events.scopes`); None: all."""
        return None

    @classmethod
    async def load(cls, info: Info, ident: Any) -> Self | None:
        """The entity with id ``ident``; None for an unknown or malformed id, or one the caller
        may not see."""
        key, model, visible = to_uuid(ident), cls.__source__, cls.visible(info)
        if key is None:
            return None
        row = await batched(
            info,
            f"{model.__tablename__}:id",
            lambda session, keys: reads.by_ids(session, model, keys, visible),
            key,
        )
        return cls.of(row) if row else None

    @classmethod
    async def resolve_reference(cls, info: Info, **key: Any) -> Self | None:
        return await cls.load(info, key["id"])


@strawberry.type
class Material(ModelType, model=m.Material, exclude=["activity_id", "created_at"]):
    pass


async def shown_educator(info: Info, organization_id: str, educator_id: object) -> strawberry.ID | None:
    """An educator's id where an organization's educator took part in something: shown only to
    those who may see that organization's personal data (:func:`scopes.educators_shown`), so that
    grouping records by educator rebuilds nothing ``participation(educatorId:)`` refuses."""
    key = to_uuid(organization_id)
    if educator_id is None or key is None:
        return None
    caller = identity(info)
    shown = await batched(
        info,
        "educators-shown",
        lambda session, keys: scopes.educators_shown(session, caller, keys),
        key,
    )
    return strawberry.ID(str(educator_id)) if shown else None


EDUCATOR_SHOWN = (
    "The educator concerned, if one is; null for a whole organization and for callers who may not"
    " see the organization's personal data"
)


@strawberry.type(description="Someone's taking part in an activity: an educator or a whole organization")
class AttendanceRecord(
    ModelType, model=m.Attendance, exclude=["participant", "source_version", "recorded_at", "educator_id"]
):
    educator: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, row: m.Attendance, **given: Any) -> Self:
        return super().of(row, educator=row.educator_id, **given)

    @strawberry.field(description=EDUCATOR_SHOWN)
    async def educator_id(self, info: Info) -> strawberry.ID | None:
        return await shown_educator(info, self.organization_id, self.educator)

    @strawberry.field
    async def activity(self, info: Info) -> Activity | None:
        return await Activity.load(info, self.activity_id)

    @strawberry.field(description="The organization that took part (the registry's)")
    def organization(self) -> Organization:
        return Organization(id=self.organization_id)


@strawberry.type
class RegistrationRecord(
    ModelType, model=m.Registration, exclude=["participant", "created_at", "educator_id"]
):
    educator: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, row: m.Registration, **given: Any) -> Self:
        return super().of(row, educator=row.educator_id, **given)

    @strawberry.field(description=EDUCATOR_SHOWN)
    async def educator_id(self, info: Info) -> strawberry.ID | None:
        return await shown_educator(info, self.organization_id, self.educator)

    @strawberry.field(description="The organization that registered (the registry's)")
    def organization(self) -> Organization:
        return Organization(id=self.organization_id)


@strawberry.type
class FeedbackRecord(ModelType, model=m.Feedback, exclude=["activity_id", "organization_id", "created_at"]):
    pass


@strawberry.federation.type(keys=["id"], description="An activity (мероприятие) in the calendar")
class Activity(
    Entity,
    model=m.Activity,
    exclude=["source_updated_at", "created_at", "updated_at", "responsible_educator_id"],
):
    responsible_educator: strawberry.Private[uuid.UUID | None]

    @classmethod
    def visible(cls, info: Info) -> reads.Visible:
        """Not yet announced: only for those who may act on it."""
        return scopes.visible_activities(identity(info))

    @classmethod
    def of(cls, row: m.Activity, **given: Any) -> Self:
        return super().of(
            row,
            starts_at=aware(row.starts_at),
            ends_at=aware(row.ends_at),
            responsible_educator=row.responsible_educator_id,
            **given,
        )

    @strawberry.field(
        description="The host's educator responsible for it, if one is named; null for callers who"
        " may not see the host's personal data"
    )
    async def responsible_educator_id(self, info: Info) -> strawberry.ID | None:
        return await shown_educator(info, self.host_organization_id, self.responsible_educator)

    @strawberry.field(description="The organization that hosts it (the registry's)")
    def host(self) -> Organization:
        return Organization(id=self.host_organization_id)

    @strawberry.field(description="The network whose activity it is, if it is one's (the registry's)")
    def network(self) -> Network | None:
        return Network(id=self.network_id) if self.network_id else None

    @strawberry.field
    async def attendance(self, info: Info) -> list[AttendanceRecord]:
        return [AttendanceRecord.of(r) for r in await of_activity(info, m.Attendance, self.id)]

    @strawberry.field
    async def registrations(self, info: Info) -> list[RegistrationRecord]:
        return [RegistrationRecord.of(r) for r in await of_activity(info, m.Registration, self.id)]

    @strawberry.field
    async def feedback(self, info: Info) -> list[FeedbackRecord]:
        return [FeedbackRecord.of(r) for r in await of_activity(info, m.Feedback, self.id)]

    @strawberry.field(description="Mean rating of the feedback, if any")
    async def mean_rating(self, info: Info) -> float | None:
        rows = await of_activity(info, m.Feedback, self.id)
        return round(sum(r.rating for r in rows) / len(rows), 2) if rows else None

    @strawberry.field
    async def materials(self, info: Info) -> list[Material]:
        return [Material.of(r) for r in await of_activity(info, m.Material, self.id)]


@strawberry.type
class ActivityEdge:
    cursor: str
    node: Activity


@strawberry.type
class ActivityConnection:
    edges: list[ActivityEdge]
    page_info: PageInfo

    @classmethod
    def of(cls, rows: list[m.Activity], more: bool) -> ActivityConnection:
        """A page of activities in calendar order, and whether more follow."""
        edges = [ActivityEdge(cursor=reads.encode_cursor(r), node=Activity.of(r)) for r in rows]
        return cls(
            edges=edges,
            page_info=PageInfo(has_next_page=more, end_cursor=edges[-1].cursor if edges else None),
        )


async def check_educator(info: Info, educator_id: uuid.UUID | None, *, what: str) -> None:
    """What one educator took part in is personal data (see :func:`scopes.require_educator`);
    checked once per request (a calendar of many networks by one educator asks once)."""
    if educator_id is None:
        return
    allowed: set[uuid.UUID] = info.context.setdefault("educators-in-scope", set())
    if educator_id not in allowed:
        async with reading(info) as session:
            await scopes.require_educator(session, identity(info), educator_id, what=what)
        allowed.add(educator_id)


async def check_calendar(info: Info, where: reads.CalendarFilter) -> None:
    """A calendar by one participating educator is theirs to see only for those in their scope."""
    await check_educator(info, where.participant_educator_id, what="the activities of an educator")


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
    await check_calendar(info, where)
    visible = Activity.visible(info)
    rows, more = await batched(
        info,
        f"calendar:{owner}:{where!r}:{first}:{after}",
        lambda session, keys: reads.calendars(
            session, owner, keys, where, first=first, after=after, visible=visible
        ),
        ident,
    )
    return ActivityConnection.of(rows, more)


@strawberry.federation.type(keys=["id"], description="An item of a joint plan")
class PlanItem(Entity, model=m.PlanItem, exclude=["created_at"]):
    @classmethod
    async def load(cls, info: Info, ident: Any) -> Self | None:
        """The item, if the caller sees its plan (a draft's items are the draft's)."""
        item = await super().load(info, ident)
        if item is None or await Plan.load(info, item.plan_id) is None:
            return None
        return item

    @strawberry.field
    async def plan(self, info: Info) -> Plan:
        plan = await Plan.load(info, self.plan_id)
        if plan is None:
            raise LookupError(f"plan {self.plan_id} of item {self.id} is missing")
        return plan

    @strawberry.field(description="The organization responsible for it, if one is (the registry's)")
    def responsible_organization(self) -> Organization | None:
        return Organization(id=self.responsible_organization_id) if self.responsible_organization_id else None

    @strawberry.field(description="The activities that carry out this item")
    async def activities(self, info: Info) -> list[Activity]:
        return [Activity.of(r) for r in await _item_activities(info, self.id)]

    @strawberry.field(description="Done when one of its activities was held or reported")
    async def done(self, info: Info) -> bool:
        return any(r.status in ("held", "reported") for r in await _item_activities(info, self.id))


async def _item_activities(info: Info, item_id: str) -> list[m.Activity]:
    visible = Activity.visible(info)
    return await batched(
        info,
        "item-activities",
        lambda session, keys: reads.activities_of_items(session, keys, visible),
        uuid.UUID(item_id),
    )


@strawberry.type
class PlanProgress:
    items: int
    done: int
    overdue: int
    share_done: float


@strawberry.federation.type(keys=["id"], description="A network's joint plan of activities for a year")
class Plan(Entity, model=m.Plan, exclude=["created_at", "updated_at"]):
    @classmethod
    def visible(cls, info: Info) -> reads.Visible:
        """A draft: only for the editors of its network."""
        return scopes.visible_plans(identity(info))

    async def _items(self, info: Info) -> list[m.PlanItem]:
        return await batched(info, "plan-items", reads.items_of, uuid.UUID(self.id))

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
class Organization(ForeignEntity):
    """An organization of the registry (which owns it), with the activities it hosts."""

    @strawberry.field(
        description="The activities it hosts: its calendar by start time, filtered, a page at a time (≤ 200)",
        directives=paged(),
    )
    @calendar_filtered(
        exclude=["host_organization_id", "participant_organization_id", "participant_educator_id"]
    )
    async def activities(
        self, info: Info, where: reads.CalendarFilter, first: int = 50, after: str | None = None
    ) -> ActivityConnection:
        return await calendar_page(info, "host_organization_id", self.id, where, first=first, after=after)


@strawberry.federation.type(keys=["id"])
class Network(ForeignEntity):
    """A network of the registry (which owns it), with its plans and its calendar."""

    @strawberry.field(description="The network's joint plans, newest year first; of `year` if given")
    async def plans(self, info: Info, year: int | None = None) -> list[Plan]:
        ident = to_uuid(self.id)
        if ident is None:
            return []
        visible = Plan.visible(info)
        rows = await batched(
            info,
            f"network-plans:{year}",
            lambda session, keys: reads.plans_of_networks(session, keys, year=year, visible=visible),
            ident,
        )
        return [Plan.of(r) for r in rows]

    @strawberry.field(
        description="The network's activities: its calendar by start time, filtered, a page at a time"
        " (≤ 200)",
        directives=paged(),
    )
    @calendar_filtered(exclude=["network_id"])
    async def calendar(
        self, info: Info, where: reads.CalendarFilter, first: int = 50, after: str | None = None
    ) -> ActivityConnection:
        return await calendar_page(info, "network_id", self.id, where, first=first, after=after)


@strawberry.type(description="What an organization or educator took part in")
class Participation:
    activities: int
    hours: float
    attendance: list[AttendanceRecord]


@strawberry.type
class MobilityRecord(ModelType, model=m.Mobility, exclude=["created_at"]):
    pass


@strawberry.type(description="A mark and its share of participants")
class MarkShare:
    mark: str
    share: float


@strawberry.type(description="A school's results in ВПР, ОГЭ, ЕГЭ or a regional diagnostic")
class AssessmentResult(
    ModelType,
    model=m.AssessmentResult,
    exclude=["external_id", "source_version", "recorded_at"],
    retype={"mark_shares": list[MarkShare]},
):
    @classmethod
    def of(cls, row: m.AssessmentResult, **given: Any) -> Self:
        shares = [MarkShare(mark=mark, share=share) for mark, share in sorted(row.mark_shares.items())]
        return super().of(row, mark_shares=shares, **given)


@strawberry.type(description="Professional training an educator completed")
class TrainingRecord(ModelType, model=m.Training, exclude=["source_version", "recorded_at"]):
    pass


@strawberry.type(description="A diagnosed professional deficit of an educator")
class DeficitRecord(ModelType, model=m.Deficit, exclude=["source_version", "recorded_at"]):
    pass
