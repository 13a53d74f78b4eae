"""GraphQL types of the events subgraph; entities resolve by id in batches (one query per request).

Types take their fields from the models (``setka_runtime.graphql_derive``); what a type adds —
references to the registry's entities, lists, figures — are its resolvers.
"""

from __future__ import annotations

import asyncio
import functools
import uuid
from datetime import date, datetime
from typing import Any, Self

import strawberry
from setka_contracts.events import MeetingKind, MeetingStatus, PlanItemKind, PlanPeriod, ProposalStatus
from setka_runtime.documents import Document, documents_field
from setka_runtime.graphql import ForeignEntity, PageInfo, batched, identity, paged, reading, to_uuid
from setka_runtime.graphql_derive import ModelType, filtered
from setka_runtime.moments import aware
from strawberry.types import Info

from .. import models as m
from .. import plans, reads, scopes

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

    @strawberry.field(description="Its files (programme, presentations, handouts), oldest first")
    async def documents(self, info: Info) -> list[Document]:
        return await documents_field(info, "activity", self.id)


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


@strawberry.federation.type(keys=["id"])
class InteractionGroup(ForeignEntity):
    """An interaction group of the registry (which owns it): its name and members are the
    registry's."""


def _group(group_id: str | None) -> InteractionGroup | None:
    return InteractionGroup(id=strawberry.ID(group_id)) if group_id else None


def _organization(organization_id: str | None) -> Organization | None:
    return Organization(id=strawberry.ID(organization_id)) if organization_id else None


@strawberry.federation.type(keys=["id"], description="An item of a joint plan, as it stands now")
class PlanItem(
    Entity,
    model=m.PlanItem,
    exclude=["created_at", "done_by"],
    describe={
        "kind": PlanItemKind,
        "withdrawn_at": "When an amendment withdrew it from the plan; null while it is in the plan",
        "done_at": "When the task was marked done (an activity item is done by its activities)",
        "done_note": "What was done, as the one who marked the task done put it",
        "done_document_url": "A link to the document that shows it done",
        "decision_id": "The meeting's decision it carries out, if it came from one",
    },
):
    @classmethod
    def of(cls, row: m.PlanItem, **given: Any) -> Self:
        moments = {"withdrawn_at": row.withdrawn_at, "done_at": row.done_at}
        return super().of(row, **{k: v and aware(v) for k, v in moments.items()}, **given)

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
        return _organization(self.responsible_organization_id)

    @strawberry.field(description="The interaction group that carries it out, if one does (the registry's)")
    def interaction_group(self) -> InteractionGroup | None:
        return _group(self.interaction_group_id)

    @strawberry.field(description="The activities that carry out this item")
    async def activities(self, info: Info) -> list[Activity]:
        return [Activity.of(r) for r in await _item_activities(info, self.id)]

    @strawberry.field(
        description="The meeting's decision it carries out; null if none, or if the caller does not"
        " see the meeting"
    )
    async def decision(self, info: Info) -> MeetingDecision | None:
        return await MeetingDecision.load(info, self.decision_id)

    @strawberry.field(
        description="Done: a task when marked done, an activity item when one of its activities was"
        " held or reported"
    )
    async def done(self, info: Info) -> bool:
        return self.done_at is not None or _held(await _item_activities(info, self.id))


def _held(activities: list[m.Activity]) -> bool:
    return any(a.status in plans.HELD for a in activities)


async def _item_activities(info: Info, item_id: str) -> list[m.Activity]:
    visible = Activity.visible(info)
    return await batched(
        info,
        "item-activities",
        lambda session, keys: reads.activities_of_items(session, keys, visible),
        uuid.UUID(item_id),
    )


@strawberry.type(description="An item as it was in one version of its plan")
class PlanItemRevision(
    ModelType,
    model=m.PlanItemRevision,
    exclude=["plan_id", "withdrawn"],
    describe={
        "kind": PlanItemKind,
        "version": "The version this state of the item dates from: it entered the plan, or was last changed",
    },
):
    @strawberry.field(description="The item as it stands now")
    async def item(self, info: Info) -> PlanItem | None:
        return await PlanItem.load(info, self.item_id)

    @strawberry.field(description="The organization responsible for it then, if one was (the registry's)")
    def responsible_organization(self) -> Organization | None:
        return _organization(self.responsible_organization_id)

    @strawberry.field(description="The interaction group that was to carry it out (the registry's)")
    def interaction_group(self) -> InteractionGroup | None:
        return _group(self.interaction_group_id)


@strawberry.type(description="One version of a plan: 1 as agreed, then one per amendment")
class PlanVersion:
    number: int
    amended_at: datetime | None = strawberry.field(description="When the amendment was made (null for 1)")
    reason: str | None = strawberry.field(description="Why the plan was amended (null for 1)")
    author_subject: strawberry.Private[str | None]
    revisions: strawberry.Private[list[m.PlanItemRevision]]

    @strawberry.field(
        description="Who amended it (the subject of their account); null for version 1 and for"
        " anonymous callers"
    )
    def author(self, info: Info) -> str | None:
        return self.author_subject if identity(info).authenticated else None

    @strawberry.field(description="The plan's items as they were in this version, by due date")
    def items(self) -> list[PlanItemRevision]:
        return [PlanItemRevision.of(r) for r in plans.items_of_version(self.revisions, self.number)]


@strawberry.type(description="An item a member of the network proposed for the joint plan")
class PlanProposal(
    ModelType,
    model=m.PlanProposal,
    exclude=["proposed_by", "decided_by"],
    describe={
        "organization_id": "The proposing member, responsible for the item",
        "kind": PlanItemKind,
        "status": ProposalStatus,
        "decision_reason": "Why the coordinator accepted or declined it",
        "item_id": "The item it became, once accepted",
        "decision_id": "The meeting's decision it carries out, if it came from one",
    },
):
    @classmethod
    def of(cls, row: m.PlanProposal, **given: Any) -> Self:
        decided = row.decided_at and aware(row.decided_at)
        return super().of(row, proposed_at=aware(row.proposed_at), decided_at=decided, **given)

    @strawberry.field
    async def plan(self, info: Info) -> Plan | None:
        return await Plan.load(info, self.plan_id)

    @strawberry.field(description="The proposing organization (the registry's)")
    def organization(self) -> Organization:
        return Organization(id=self.organization_id)

    @strawberry.field(description="The interaction group that is to carry it out (the registry's)")
    def interaction_group(self) -> InteractionGroup | None:
        return _group(self.interaction_group_id)

    @strawberry.field(description="The item it became, once accepted")
    async def item(self, info: Info) -> PlanItem | None:
        return await PlanItem.load(info, self.item_id) if self.item_id else None

    @strawberry.field(
        description="The meeting's decision it carries out; null if none, or if the caller does not"
        " see the meeting"
    )
    async def decision(self, info: Info) -> MeetingDecision | None:
        return await MeetingDecision.load(info, self.decision_id)


@strawberry.type
class PlanProgress:
    items: int = strawberry.field(description="Items in the plan now (withdrawn ones not counted)")
    done: int = strawberry.field(description="Activity items with an activity held, tasks marked done")
    overdue: int = strawberry.field(description="Items not done whose due date has passed")
    share_done: float
    due: int = strawberry.field(description="Items due by today (all of them once the period has ended)")
    period_elapsed: float = strawberry.field(
        description="The share (0–1) of the plan's period (calendar or school year) gone by today"
    )


def _elapsed(first: date, last: date, today: date) -> float:
    if today < first:
        return 0.0
    if today > last:
        return 1.0
    return round(((today - first).days + 1) / ((last - first).days + 1), 3)


@strawberry.federation.type(
    keys=["id"], description="A network's joint plan of activities for a calendar or a school year"
)
class Plan(
    Entity,
    model=m.Plan,
    exclude=["created_at", "updated_at"],
    describe={
        "period": PlanPeriod,
        "year": "The calendar year, or the year the school year starts in (2025: 2025/26)",
        "version": "The current version: 1 as agreed, one more per amendment",
    },
):
    @classmethod
    def visible(cls, info: Info) -> reads.Visible:
        """A draft: only for the editors of its network and its members' representatives."""
        return scopes.visible_plans(identity(info))

    async def _items(self, info: Info) -> list[m.PlanItem]:
        return await batched(info, "plan-items", reads.items_of, uuid.UUID(self.id))

    @strawberry.field(description="The first day the plan covers (1 January, or 1 September)")
    def starts_on(self) -> date:
        return plans.period_bounds(self.period, self.year)[0]

    @strawberry.field(description="The last day the plan covers (31 December, or 31 August)")
    def ends_on(self) -> date:
        return plans.period_bounds(self.period, self.year)[1]

    @strawberry.field(description="The network whose plan it is (the registry's)")
    def network(self) -> Network:
        return Network(id=self.network_id)

    @strawberry.field(description="Its items now, by due date (items withdrawn by amendments are not)")
    async def items(self, info: Info) -> list[PlanItem]:
        return [PlanItem.of(r) for r in await self._items(info)]

    @strawberry.field(description="Members' proposals of items, oldest first; of `status` if given")
    async def proposals(self, info: Info, status: str | None = None) -> list[PlanProposal]:
        rows = await batched(info, "plan-proposals", reads.proposals_of, uuid.UUID(self.id))
        return [PlanProposal.of(r) for r in rows if status is None or r.status == status]

    @strawberry.field(
        description="Every version, 1 (as agreed) first: the amendments and the items as they were"
    )
    async def versions(self, info: Info) -> list[PlanVersion]:
        key = uuid.UUID(self.id)
        revisions, amendments = await asyncio.gather(
            batched(info, "plan-revisions", reads.revisions_of, key),
            batched(info, "plan-amendments", reads.amendments_of, key),
        )
        first = PlanVersion(number=1, amended_at=None, reason=None, author_subject=None, revisions=revisions)
        return [
            first,
            *(
                PlanVersion(
                    number=a.version,
                    amended_at=aware(a.amended_at),
                    reason=a.reason,
                    author_subject=a.author,
                    revisions=revisions,
                )
                for a in amendments
            ),
        ]

    @strawberry.field(description="How far the plan is done, within its period")
    async def progress(self, info: Info) -> PlanProgress:
        items = await self._items(info)
        activities = await asyncio.gather(*(_item_activities(info, str(item.id)) for item in items))
        first, last = plans.period_bounds(self.period, self.year)
        today = date.today()
        done = due = overdue = 0
        for item, held in zip(items, activities, strict=True):
            finished = plans.is_done(item, _held(held))
            done += finished
            due += item.due_on <= today
            overdue += (not finished) and item.due_on < today
        return PlanProgress(
            items=len(items),
            done=done,
            overdue=overdue,
            share_done=round(done / len(items), 3) if items else 0.0,
            due=due,
            period_elapsed=_elapsed(first, last, today),
        )


MEETINGS = (
    "The network's meetings (its council, methodological associations), latest first; of `status`"
    " (scheduled, held or cancelled) if given. Seen by the network's editors, its members'"
    " representatives and the read-only roles of its region"
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

    @strawberry.field(description=MEETINGS)
    async def meetings(self, info: Info, status: str | None = None) -> list[Meeting]:
        return await network_meetings(info, self.id, status)


@strawberry.type(description="What an organization or educator took part in")
class Participation:
    activities: int
    hours: float
    attendance: list[AttendanceRecord]


@strawberry.type(description="Students or teachers of one organization working at a partner's premises")
class MobilityRecord(
    ModelType,
    model=m.Mobility,
    exclude=["created_at"],
    describe={
        "version": "1 when recorded, one more with each correction and with its deletion",
        "updated_at": "When it was last corrected or deleted",
        "deleted_at": "When it was deleted as a mistake (then it no longer counts)",
        "change_reason": "Why it was last corrected or deleted",
    },
):
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


# --- meetings -------------------------------------------------------------------------------------


async def network_meetings(info: Info, network_id: object, status: str | None) -> list[Meeting]:
    """A network's meetings the caller sees; every network asked alike in a request is one query."""
    ident = to_uuid(network_id)
    if ident is None:
        return []
    visible = Meeting.visible(info)
    rows = await batched(
        info,
        f"network-meetings:{status}",
        lambda session, keys: reads.meetings_of_networks(session, keys, status=status, visible=visible),
        ident,
    )
    return [Meeting.of(r) for r in rows]


@strawberry.type(
    description="Who takes part in a meeting: an organization as a whole, or one of its educators"
)
class MeetingParticipantRecord(
    ModelType,
    model=m.MeetingParticipant,
    exclude=["id", "meeting_id", "participant", "position", "educator_id"],
):
    educator: strawberry.Private[uuid.UUID | None]

    @classmethod
    def of(cls, row: m.MeetingParticipant, **given: Any) -> Self:
        return super().of(row, educator=row.educator_id, **given)

    @strawberry.field(description=EDUCATOR_SHOWN)
    async def educator_id(self, info: Info) -> strawberry.ID | None:
        return await shown_educator(info, self.organization_id, self.educator)

    @strawberry.field(description="The organization taking part (the registry's)")
    def organization(self) -> Organization:
        return Organization(id=self.organization_id)


@strawberry.type(
    description="A decision (решение) of a meeting: what is to be done, which organization answers"
    " for it, by when; it may be carried into the network's joint plan"
)
class MeetingDecision(ModelType, model=m.MeetingDecision, exclude=["created_at"]):
    @classmethod
    async def load(cls, info: Info, ident: Any) -> Self | None:
        """The decision, if the caller sees its meeting."""
        key = to_uuid(ident)
        if key is None:
            return None
        row = await batched(
            info,
            "meeting_decision:id",
            lambda session, keys: reads.by_ids(session, m.MeetingDecision, keys),
            key,
        )
        if row is None or await Meeting.load(info, row.meeting_id) is None:
            return None
        return cls.of(row)

    @strawberry.field
    async def meeting(self, info: Info) -> Meeting:
        meeting = await Meeting.load(info, self.meeting_id)
        if meeting is None:
            raise LookupError(f"meeting {self.meeting_id} of decision {self.id} is missing")
        return meeting

    @strawberry.field(description="The organization that answers for it (the registry's)")
    def responsible_organization(self) -> Organization:
        return Organization(id=self.responsible_organization_id)

    @strawberry.field(
        description="The plan item that carries it out, once it is in the plan (and the plan is seen)"
    )
    async def plan_item(self, info: Info) -> PlanItem | None:
        row = await batched(info, "decision-items", reads.items_of_decisions, uuid.UUID(self.id))
        return None if row is None else await PlanItem.load(info, row.id)

    @strawberry.field(
        description="The latest proposal it was made into for an agreed plan (pending, accepted or"
        " declined), if one was (and the plan is seen)"
    )
    async def proposal(self, info: Info) -> PlanProposal | None:
        row = await batched(info, "decision-proposals", reads.proposals_of_decisions, uuid.UUID(self.id))
        if row is None or await Plan.load(info, row.plan_id) is None:
            return None
        return PlanProposal.of(row)


@strawberry.federation.type(
    keys=["id"],
    description="A meeting (заседание) of a network's council (совет сети), of a methodological"
    " association (методическое объединение) or of another of its bodies",
)
class Meeting(
    Entity,
    model=m.Meeting,
    exclude=["created_at", "updated_at"],
    describe={
        "kind": MeetingKind,
        "status": MeetingStatus,
        "place": "Where it meets (an address, a room)",
        "online_link": "The link of an online meeting",
        "agenda": "The agenda's items (повестка), in order",
        "status_reason": "Why it was cancelled",
        "minutes": "The minutes (протокол), once it is held",
        "held_at": "When it was recorded as held",
    },
):
    @classmethod
    def visible(cls, info: Info) -> reads.Visible:
        """Its network's editors, its members' representatives, the region's readers."""
        return scopes.visible_meetings(identity(info))

    @classmethod
    def of(cls, row: m.Meeting, **given: Any) -> Self:
        return super().of(
            row,
            starts_at=aware(row.starts_at),
            ends_at=row.ends_at and aware(row.ends_at),
            held_at=row.held_at and aware(row.held_at),
            agenda=list(row.agenda),
            **given,
        )

    @strawberry.field(description="The network whose meeting it is (the registry's)")
    def network(self) -> Network:
        return Network(id=self.network_id)

    @strawberry.field(
        description="The interaction group (РМО) whose meeting it is, if one's (the registry's)"
    )
    def interaction_group(self) -> InteractionGroup | None:
        return _group(self.interaction_group_id)

    @strawberry.field(description="Its participants, in the order listed")
    async def participants(self, info: Info) -> list[MeetingParticipantRecord]:
        rows = await batched(info, "meeting-participants", reads.participants_of, uuid.UUID(self.id))
        return [MeetingParticipantRecord.of(r) for r in rows]

    @strawberry.field(description="Its decisions, by number")
    async def decisions(self, info: Info) -> list[MeetingDecision]:
        rows = await batched(info, "meeting-decisions", reads.decisions_of, uuid.UUID(self.id))
        return [MeetingDecision.of(r) for r in rows]

    @strawberry.field(description="Its files: the signed minutes (протокол), the materials")
    async def documents(self, info: Info) -> list[Document]:
        return await documents_field(info, "meeting", self.id)
