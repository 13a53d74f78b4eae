"""What the subgraph reads: the calendar, plans and their progress, meetings, participation,
regional facts."""

from __future__ import annotations

import base64
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from setka_runtime.errors import DomainError
from setka_runtime.moments import aware, utc
from setka_runtime.sql import one_of
from sqlalchemy import ColumnElement, Select, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from .models import (
    Activity,
    Attendance,
    Meeting,
    MeetingDecision,
    MeetingParticipant,
    Plan,
    PlanAmendment,
    PlanItem,
    PlanItemRevision,
    PlanProposal,
    Registration,
)

MAX_PAGE = 200
T = TypeVar("T")

Visible = ColumnElement[bool] | None
"""Which rows the caller may see (see :mod:`services.events.scopes`); None: every row."""


def _only(query: Select[Any], visible: Visible) -> Select[Any]:
    return query if visible is None else query.where(visible)


@dataclass(frozen=True)
class CalendarFilter:
    network_id: uuid.UUID | None = None
    host_organization_id: uuid.UUID | None = None
    participant_organization_id: uuid.UUID | None = None
    participant_educator_id: uuid.UUID | None = None
    activity_type: str | None = None
    status: str | None = None
    starts_from: datetime | None = None
    starts_before: datetime | None = None


def encode_cursor(activity: Activity) -> str:
    return base64.urlsafe_b64encode(
        f"{aware(activity.starts_at).isoformat()}|{activity.id}".encode()
    ).decode()


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        moment, _, ident = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        return datetime.fromisoformat(moment), uuid.UUID(ident)
    except ValueError as exc:
        raise DomainError(
            "Неверный курсор: начните с первой страницы", code="INVALID_CURSOR", field="after"
        ) from exc


def _calendar_query(where: CalendarFilter, after: str | None, visible: Visible = None) -> Select[Any]:
    """The activities ``where`` selects that the caller sees, past the cursor ``after`` (no order,
    no limit yet)."""
    query = _only(select(Activity), visible)
    if where.network_id:
        query = query.where(Activity.network_id == where.network_id)
    if where.host_organization_id:
        query = query.where(Activity.host_organization_id == where.host_organization_id)
    if where.activity_type:
        query = query.where(Activity.activity_type == where.activity_type)
    if where.status:
        query = query.where(Activity.status == where.status)
    if where.starts_from:
        query = query.where(Activity.starts_at >= utc(where.starts_from, field="startsFrom"))
    if where.starts_before:
        query = query.where(Activity.starts_at < utc(where.starts_before, field="startsBefore"))
    if where.participant_organization_id or where.participant_educator_id:
        took_part = []
        for table in (Registration, Attendance):
            sub = select(table.activity_id)
            if where.participant_organization_id:
                sub = sub.where(table.organization_id == where.participant_organization_id)
            if where.participant_educator_id:
                sub = sub.where(table.educator_id == where.participant_educator_id)
            took_part.append(Activity.id.in_(sub))
        query = query.where(or_(*took_part))
    if after:
        moment, ident = decode_cursor(after)
        query = query.where(tuple_(Activity.starts_at, Activity.id) > (utc(moment), ident))
    return query


def page_size(first: int) -> int:
    """The asked page size, capped at :data:`MAX_PAGE`."""
    return max(1, min(first, MAX_PAGE))


async def calendar(
    session: AsyncSession, where: CalendarFilter, *, first: int, after: str | None, visible: Visible = None
) -> tuple[list[Activity], bool]:
    """Activities by start time, a page at a time; returns the page and whether more follow."""
    limit = page_size(first)
    query = _calendar_query(where, after, visible).order_by(Activity.starts_at, Activity.id).limit(limit + 1)
    rows = list((await session.scalars(query)).all())
    return rows[:limit], len(rows) > limit


CalendarOwner = Literal["host_organization_id", "network_id"]


async def calendars(
    session: AsyncSession,
    owner: CalendarOwner,
    keys: list[uuid.UUID],
    where: CalendarFilter,
    *,
    first: int,
    after: str | None,
    visible: Visible = None,
) -> list[tuple[list[Activity], bool]]:
    """The calendar page of each of many hosts or networks (``owner`` says which), in one query:
    the activities are numbered per owner in calendar order and each owner's first page is kept."""
    limit = page_size(first)
    column = getattr(Activity, owner)
    position = func.row_number().over(partition_by=column, order_by=(Activity.starts_at, Activity.id))
    ranked = (
        _calendar_query(where, after, visible)
        .where(one_of(session, column, keys))
        .add_columns(position.label("position"))
        .subquery()
    )
    page = aliased(Activity, ranked)
    query = select(page).where(ranked.c.position <= limit + 1).order_by(page.starts_at, page.id)
    rows = (await session.scalars(query)).all()
    return [(group[:limit], len(group) > limit) for group in _grouped(rows, keys, owner)]


def _grouped(rows: Sequence[Any], keys: list[uuid.UUID], attribute: str) -> list[list[Any]]:
    groups: dict[uuid.UUID, list[Any]] = defaultdict(list)
    for row in rows:
        groups[getattr(row, attribute)].append(row)
    return [groups.get(key, []) for key in keys]


async def by_ids(
    session: AsyncSession, model: type[T], ids: list[uuid.UUID], visible: Visible = None
) -> list[T | None]:
    """The rows of these ids (None for one unknown, or one the caller may not see)."""
    query = _only(select(model).where(model.id.in_(ids)), visible)  # type: ignore[attr-defined]
    rows = (await session.scalars(query)).all()
    found = {row.id: row for row in rows}  # type: ignore[attr-defined]
    return [found.get(i) for i in ids]


async def per_activity(session: AsyncSession, model: Any, activity_ids: list[uuid.UUID]) -> list[list[Any]]:
    order = model.created_at if hasattr(model, "created_at") else model.recorded_at
    rows = (
        await session.scalars(select(model).where(model.activity_id.in_(activity_ids)).order_by(order))
    ).all()
    return _grouped(rows, activity_ids, "activity_id")


async def registrations_count(session: AsyncSession, activity_ids: list[uuid.UUID]) -> list[int]:
    rows = (
        await session.execute(
            select(Registration.activity_id, func.count())
            .where(Registration.activity_id.in_(activity_ids))
            .group_by(Registration.activity_id)
        )
    ).all()
    counts = dict(rows)  # type: ignore[arg-type]
    return [int(counts.get(i, 0)) for i in activity_ids]


async def plans(
    session: AsyncSession, *, network_id: uuid.UUID | None, year: int | None, visible: Visible = None
) -> list[Plan]:
    query = _only(select(Plan), visible)
    if network_id:
        query = query.where(Plan.network_id == network_id)
    if year:
        query = query.where(Plan.year == year)
    return list((await session.scalars(query.order_by(Plan.year.desc(), Plan.title))).all())


async def plans_of_networks(
    session: AsyncSession, network_ids: list[uuid.UUID], *, year: int | None, visible: Visible = None
) -> list[list[Plan]]:
    """The plans of each network (of ``year`` if given), newest year first; one query for all."""
    query = _only(select(Plan).where(one_of(session, Plan.network_id, network_ids)), visible)
    if year:
        query = query.where(Plan.year == year)
    rows = (await session.scalars(query.order_by(Plan.year.desc(), Plan.title))).all()
    return _grouped(rows, network_ids, "network_id")


async def items_of(session: AsyncSession, plan_ids: list[uuid.UUID]) -> list[list[PlanItem]]:
    """The items each plan has now (not those an amendment withdrew), by due date."""
    query = select(PlanItem).where(PlanItem.plan_id.in_(plan_ids), PlanItem.withdrawn_at.is_(None))
    rows = (await session.scalars(query.order_by(PlanItem.due_on, PlanItem.created_at))).all()
    return _grouped(rows, plan_ids, "plan_id")


async def revisions_of(session: AsyncSession, plan_ids: list[uuid.UUID]) -> list[list[PlanItemRevision]]:
    """Every revision of each plan's items, by version."""
    query = select(PlanItemRevision).where(PlanItemRevision.plan_id.in_(plan_ids))
    rows = (await session.scalars(query.order_by(PlanItemRevision.version))).all()
    return _grouped(rows, plan_ids, "plan_id")


async def amendments_of(session: AsyncSession, plan_ids: list[uuid.UUID]) -> list[list[PlanAmendment]]:
    query = select(PlanAmendment).where(PlanAmendment.plan_id.in_(plan_ids))
    rows = (await session.scalars(query.order_by(PlanAmendment.version))).all()
    return _grouped(rows, plan_ids, "plan_id")


async def proposals_of(session: AsyncSession, plan_ids: list[uuid.UUID]) -> list[list[PlanProposal]]:
    """Each plan's proposals, oldest first."""
    query = select(PlanProposal).where(PlanProposal.plan_id.in_(plan_ids))
    rows = (await session.scalars(query.order_by(PlanProposal.proposed_at, PlanProposal.id))).all()
    return _grouped(rows, plan_ids, "plan_id")


async def activities_of_items(
    session: AsyncSession, item_ids: list[uuid.UUID], visible: Visible = None
) -> list[list[Activity]]:
    query = _only(select(Activity).where(Activity.plan_item_id.in_(item_ids)), visible)
    rows = (await session.scalars(query.order_by(Activity.starts_at))).all()
    return _grouped(rows, item_ids, "plan_item_id")


async def attendance_of(
    session: AsyncSession, *, organization_id: uuid.UUID | None, educator_id: uuid.UUID | None
) -> list[Attendance]:
    query = select(Attendance)
    if organization_id:
        query = query.where(Attendance.organization_id == organization_id)
    if educator_id:
        query = query.where(Attendance.educator_id == educator_id)
    return list((await session.scalars(query.order_by(Attendance.recorded_at))).all())


async def facts(session: AsyncSession, model: Any, visible: Visible = None, **where: Any) -> list[Any]:
    """The facts of ``model`` whose columns have the values given (None: any), that the caller sees."""
    query = _only(select(model), visible)
    for name, value in where.items():
        if value is not None:
            query = query.where(getattr(model, name) == value)
    return list((await session.scalars(query.order_by(model.id))).all())


# --- meetings -------------------------------------------------------------------------------------


async def meetings_of_networks(
    session: AsyncSession, network_ids: list[uuid.UUID], *, status: str | None, visible: Visible = None
) -> list[list[Meeting]]:
    """Each network's meetings (of ``status`` if given), latest first; one query for all."""
    query = _only(select(Meeting).where(one_of(session, Meeting.network_id, network_ids)), visible)
    if status:
        query = query.where(Meeting.status == status)
    rows = (await session.scalars(query.order_by(Meeting.starts_at.desc(), Meeting.id))).all()
    return _grouped(rows, network_ids, "network_id")


async def participants_of(
    session: AsyncSession, meeting_ids: list[uuid.UUID]
) -> list[list[MeetingParticipant]]:
    """Each meeting's participants in the order they were listed."""
    query = select(MeetingParticipant).where(MeetingParticipant.meeting_id.in_(meeting_ids))
    rows = (await session.scalars(query.order_by(MeetingParticipant.position))).all()
    return _grouped(rows, meeting_ids, "meeting_id")


async def decisions_of(session: AsyncSession, meeting_ids: list[uuid.UUID]) -> list[list[MeetingDecision]]:
    """Each meeting's decisions by number."""
    query = select(MeetingDecision).where(MeetingDecision.meeting_id.in_(meeting_ids))
    rows = (await session.scalars(query.order_by(MeetingDecision.number))).all()
    return _grouped(rows, meeting_ids, "meeting_id")


async def decisions_due(
    session: AsyncSession, *, network_id: uuid.UUID | None, due_by: date | None, visible: Visible = None
) -> list[MeetingDecision]:
    """Decisions of the meetings the caller sees, due by ``due_by`` (any if None), soonest first."""
    query = _only(select(MeetingDecision).join(Meeting, Meeting.id == MeetingDecision.meeting_id), visible)
    if network_id:
        query = query.where(Meeting.network_id == network_id)
    if due_by:
        query = query.where(MeetingDecision.due_on <= due_by)
    order = (MeetingDecision.due_on, Meeting.starts_at, MeetingDecision.number)
    return list((await session.scalars(query.order_by(*order))).all())


async def items_of_decisions(session: AsyncSession, decision_ids: list[uuid.UUID]) -> list[PlanItem | None]:
    """The plan item that carries each decision, if one does."""
    rows = (await session.scalars(select(PlanItem).where(PlanItem.decision_id.in_(decision_ids)))).all()
    found = {row.decision_id: row for row in rows}
    return [found.get(key) for key in decision_ids]


async def proposals_of_decisions(
    session: AsyncSession, decision_ids: list[uuid.UUID]
) -> list[PlanProposal | None]:
    """The latest proposal made of each decision, if one was."""
    query = select(PlanProposal).where(PlanProposal.decision_id.in_(decision_ids))
    found: dict[uuid.UUID | None, PlanProposal] = {}
    for row in (await session.scalars(query.order_by(PlanProposal.proposed_at, PlanProposal.id))).all():
        found[row.decision_id] = row
    return [found.get(key) for key in decision_ids]
