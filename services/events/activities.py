"""Activities (мероприятия): planned → announced → held → reported, or cancelled / postponed."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from setka_contracts.events import (
    ActivityAnnounced,
    ActivityCancelled,
    ActivityFormat,
    ActivityHeld,
    ActivityPlanned,
    ActivityPostponed,
    ActivityReported,
    ActivityStatus,
    ActivityType,
    LearningProcess,
    MaterialAdded,
    PlanItemKind,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from setka_runtime.moments import aware, utc
from setka_runtime.russian import day, moment
from sqlalchemy.ext.asyncio import AsyncSession

from .common import (
    ACTIVITY_STATUS_NAMES,
    SOURCE,
    check_choice,
    check_text,
    is_member,
    known_educator,
    known_network,
    known_organization,
    optional_text,
)
from .models import Activity, Material, Plan, PlanItem, now

OPEN = {ActivityStatus.planned, ActivityStatus.announced, ActivityStatus.postponed}
"""Statuses in which an activity has not taken place and may still change."""


@dataclass(frozen=True)
class PlanActivity:
    title: str
    activity_type: str
    format: str
    host_organization_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    network_id: uuid.UUID | None = None
    processes: list[str] = field(default_factory=list)
    location: str | None = None
    plan_item_id: uuid.UUID | None = None
    responsible_educator_id: uuid.UUID | None = None
    audience: str | None = None
    capacity: int | None = None


def check_period(starts_at: datetime, ends_at: datetime) -> None:
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        raise DomainError("Укажите время с часовым поясом", code="TIME_ZONE_REQUIRED", field="startsAt")
    if ends_at <= starts_at:
        raise DomainError("Окончание должно быть позже начала", code="END_NOT_AFTER_START", field="endsAt")


async def check_host(
    session: AsyncSession, host_id: uuid.UUID, network_id: uuid.UUID | None, starts_at: datetime
) -> None:
    """The host must be a member of the network on the day the activity starts."""
    await known_organization(session, host_id, field="hostOrganizationId")
    if network_id is None:
        return
    network = await known_network(session, network_id)
    if not await is_member(session, network_id, host_id, starts_at.date()):
        raise DomainError(
            f"Организация не входит в сеть «{network.name}» на {day(starts_at.date())}",
            code="NOT_A_MEMBER",
            field="hostOrganizationId",
        )


async def plan_activity(session: AsyncSession, command: PlanActivity) -> Activity:
    activity_type = check_choice(ActivityType, command.activity_type, field="activityType")
    form = check_choice(ActivityFormat, command.format, field="format")
    processes = [
        check_choice(LearningProcess, p, field="processes") for p in dict.fromkeys(command.processes)
    ]
    check_period(command.starts_at, command.ends_at)
    if command.capacity is not None and command.capacity < 1:
        raise DomainError("Мест должно быть не меньше одного", code="NOT_POSITIVE", field="capacity")
    await check_host(session, command.host_organization_id, command.network_id, command.starts_at)
    if command.plan_item_id is not None:
        item = await session.get(PlanItem, command.plan_item_id)
        plan = await session.get(Plan, item.plan_id) if item else None
        if item is None or plan is None:
            raise DomainError("Такого пункта плана нет", code="PLAN_ITEM_NOT_FOUND", field="planItemId")
        if plan.network_id != command.network_id:
            raise DomainError(
                "Пункт относится к плану другой сети", code="PLAN_ITEM_OF_ANOTHER_NETWORK", field="planItemId"
            )
        if plan.status == "closed":
            raise DomainError("План закрыт", code="PLAN_CLOSED", field="planItemId")
        if item.withdrawn_at is not None:
            raise DomainError(
                "Пункт плана исключён поправкой к плану", code="PLAN_ITEM_WITHDRAWN", field="planItemId"
            )
        if item.kind == PlanItemKind.task:
            raise DomainError(
                "Этот пункт плана — задача: её отмечают выполненной, а не проводят",
                code="PLAN_ITEM_IS_TASK",
                field="planItemId",
            )
    if command.responsible_educator_id is not None:
        await known_educator(
            session, command.responsible_educator_id, organization_id=None, field="responsibleEducatorId"
        )
    location = optional_text(command.location, field="location", limit=500)
    if form != ActivityFormat.in_person and location and not location.startswith(("https://", "http://")):
        raise DomainError(
            "Для дистанционного или смешанного мероприятия укажите ссылку (https://…)",
            code="LOCATION_LINK_REQUIRED",
            field="location",
        )
    activity = Activity(
        title=check_text(command.title, field="title", limit=500),
        activity_type=activity_type.value,
        processes=[p.value for p in processes],
        format=form.value,
        location=location,
        host_organization_id=command.host_organization_id,
        network_id=command.network_id,
        plan_item_id=command.plan_item_id,
        responsible_educator_id=command.responsible_educator_id,
        starts_at=utc(command.starts_at, field="startsAt"),
        ends_at=utc(command.ends_at, field="endsAt"),
        audience=optional_text(command.audience, field="audience", limit=500),
        capacity=command.capacity,
    )
    session.add(activity)
    await session.flush()
    await outbox.record(session, planned_event(activity), source=SOURCE)
    return activity


def planned_event(activity: Activity, model: type[ActivityPlanned] = ActivityPlanned) -> ActivityPlanned:
    return model(
        activity_id=activity.id,
        title=activity.title,
        activity_type=ActivityType(activity.activity_type),
        processes=[LearningProcess(p) for p in activity.processes],
        format=ActivityFormat(activity.format),
        host_organization_id=activity.host_organization_id,
        network_id=activity.network_id,
        plan_item_id=activity.plan_item_id,
        responsible_educator_id=activity.responsible_educator_id,
        starts_at=aware(activity.starts_at),
        ends_at=aware(activity.ends_at),
        audience=activity.audience,
        capacity=activity.capacity,
        status=ActivityStatus(activity.status),
        source_system=activity.source_system,
        external_id=activity.external_id,
    )


async def get_activity(session: AsyncSession, activity_id: uuid.UUID, *, lock: bool = True) -> Activity:
    activity = await session.get(Activity, activity_id, with_for_update=lock)
    if activity is None:
        raise DomainError("Такого мероприятия нет", code="ACTIVITY_NOT_FOUND", field="activityId")
    return activity


ACTIONS = {
    ActivityStatus.announced: "объявить",
    ActivityStatus.held: "отметить проведённым",
    ActivityStatus.reported: "отчитать",
    ActivityStatus.cancelled: "отменить",
    ActivityStatus.postponed: "перенести",
    "given materials": "дополнить материалами",
}


def _refuse(activity: Activity, action: str) -> DomainError:
    return DomainError(
        f"Мероприятие в статусе «{ACTIVITY_STATUS_NAMES[activity.status]}» нельзя {ACTIONS[action]}",
        code="ACTIVITY_TRANSITION",
        field="activityId",
    )


async def _changed(session: AsyncSession, activity: Activity, status: ActivityStatus) -> datetime:
    activity.status = status.value
    activity.updated_at = now()
    await session.flush()
    return activity.updated_at


async def announce(session: AsyncSession, activity_id: uuid.UUID, *, at: datetime | None = None) -> Activity:
    activity = await get_activity(session, activity_id)
    if activity.status not in (ActivityStatus.planned, ActivityStatus.postponed):
        raise _refuse(activity, "announced")
    if aware(activity.ends_at) <= (at or now()):
        raise DomainError(
            "Мероприятие уже закончилось: отметьте его проведённым", code="ACTIVITY_OVER", field="activityId"
        )
    changed = await _changed(session, activity, ActivityStatus.announced)
    await outbox.record(
        session, ActivityAnnounced(activity_id=activity.id, changed_at=changed), source=SOURCE
    )
    return activity


async def hold(session: AsyncSession, activity_id: uuid.UUID, *, at: datetime | None = None) -> Activity:
    """Mark the activity held; not before it has started."""
    activity = await get_activity(session, activity_id)
    if activity.status not in (ActivityStatus.planned, ActivityStatus.announced):
        raise _refuse(activity, "held")
    if (at or now()) < aware(activity.starts_at):
        raise DomainError(
            f"Мероприятие начнётся {moment(aware(activity.starts_at))};"
            " раньше его нельзя отметить проведённым",
            code="HELD_BEFORE_START",
            field="activityId",
        )
    changed = await _changed(session, activity, ActivityStatus.held)
    await outbox.record(session, ActivityHeld(activity_id=activity.id, changed_at=changed), source=SOURCE)
    return activity


async def report(session: AsyncSession, activity_id: uuid.UUID, text: str) -> Activity:
    activity = await get_activity(session, activity_id)
    if activity.status != ActivityStatus.held:
        raise _refuse(activity, "reported")
    activity.report = check_text(text, field="report", limit=20000)
    changed = await _changed(session, activity, ActivityStatus.reported)
    await outbox.record(
        session,
        ActivityReported(activity_id=activity.id, changed_at=changed, report=activity.report),
        source=SOURCE,
    )
    return activity


async def cancel(session: AsyncSession, activity_id: uuid.UUID, reason: str) -> Activity:
    activity = await get_activity(session, activity_id)
    if activity.status not in OPEN:
        raise _refuse(activity, "cancelled")
    activity.status_reason = check_text(reason, field="reason", limit=1000)
    changed = await _changed(session, activity, ActivityStatus.cancelled)
    await outbox.record(
        session,
        ActivityCancelled(activity_id=activity.id, changed_at=changed, reason=activity.status_reason),
        source=SOURCE,
    )
    return activity


async def postpone(
    session: AsyncSession,
    activity_id: uuid.UUID,
    reason: str,
    *,
    starts_at: datetime | None = None,
    ends_at: datetime | None = None,
) -> Activity:
    """Postpone, with the new dates if they are known; the host must still be a member then."""
    activity = await get_activity(session, activity_id)
    if activity.status not in (ActivityStatus.planned, ActivityStatus.announced):
        raise _refuse(activity, "postponed")
    text = check_text(reason, field="reason", limit=1000)
    if (starts_at is None) != (ends_at is None):
        raise DomainError(
            "Укажите и новое начало, и новое окончание — или ни то ни другое",
            code="NEW_DATES_INCOMPLETE",
            field="startsAt",
        )
    if starts_at is not None and ends_at is not None:
        check_period(starts_at, ends_at)
        await check_host(session, activity.host_organization_id, activity.network_id, starts_at)
        activity.starts_at, activity.ends_at = utc(starts_at, field="startsAt"), utc(ends_at, field="endsAt")
    activity.status_reason = text
    changed = await _changed(session, activity, ActivityStatus.postponed)
    await outbox.record(
        session,
        ActivityPostponed(
            activity_id=activity.id, changed_at=changed, reason=text, starts_at=starts_at, ends_at=ends_at
        ),
        source=SOURCE,
    )
    return activity


async def add_material(session: AsyncSession, activity_id: uuid.UUID, title: str, url: str) -> Material:
    activity = await get_activity(session, activity_id)
    if activity.status == ActivityStatus.cancelled:
        raise _refuse(activity, "given materials")
    link = url.strip()
    if not link.startswith(("https://", "http://")) or len(link) > 1000:
        raise DomainError("Материал — это ссылка, начинающаяся с https://", code="LINK_FORMAT", field="url")
    material = Material(activity_id=activity.id, title=check_text(title, field="title", limit=500), url=link)
    session.add(material)
    await session.flush()
    await outbox.record(
        session,
        MaterialAdded(
            activity_id=activity.id, material_id=material.id, title=material.title, url=material.url
        ),
        source=SOURCE,
    )
    return material
