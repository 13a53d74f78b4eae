"""The inbound contract: facts regional systems publish to ``regional.*`` become our events.

Each handler runs in the guarded consumer's transaction. A fact that breaks a rule raises
:class:`PermanentError` (to the dead-letter topic with the reason); one that refers to an
organization, educator or activity we do not know yet raises :class:`NotYetKnown` and waits.
Facts are upserted by their natural keys, so sending one again changes nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from setka_contracts import CloudEvent, topics
from setka_contracts.events import (
    ActivityStatus,
    ActivityUpdatedByRegion,
    AssessmentResultRecorded,
    DeficitRecorded,
    TrainingRecorded,
)
from setka_contracts.regional import (
    ActivityRecordedByRegion,
    AssessmentResultPublished,
    AttendanceRecordedByRegion,
    DeficitDiagnosed,
    OrganizationRef,
    RegionalActivityStatus,
    TrainingCompleted,
)
from setka_runtime import outbox
from setka_runtime.errors import DomainError, NotYetKnown, PermanentError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import activities, participation
from .common import SOURCE, is_member, works_at
from .models import (
    Activity,
    AssessmentResult,
    Deficit,
    KnownEducator,
    KnownNetwork,
    KnownOrganization,
    Training,
    aware,
    now,
    utc,
)

NAMESPACE = uuid.UUID("6f1d8f0e-4d55-4c7a-9a55-2b1c3f7f5e10")


def fact_id(kind: str, *parts: object) -> uuid.UUID:
    """A stable id of an inbound fact from its natural key, the same on every redelivery."""
    return uuid.uuid5(NAMESPACE, "\x1f".join([kind, *(str(p) for p in parts)]))


async def resolve_organization(
    session: AsyncSession, ref: OrganizationRef, *, role: str
) -> KnownOrganization:
    if ref.id is not None:
        found = await session.get(KnownOrganization, ref.id)
    else:
        found = await session.scalar(select(KnownOrganization).where(KnownOrganization.inn == ref.inn))
    if found is None:
        raise NotYetKnown(f"{role} ({ref.describe()}) is not registered in Setka yet")
    return found


async def resolve_educator(
    session: AsyncSession, educator_id: uuid.UUID, organization: KnownOrganization
) -> None:
    educator = await session.get(KnownEducator, educator_id)
    if educator is None:
        raise NotYetKnown(f"educator {educator_id} is not registered in Setka yet")
    if not await works_at(session, educator_id, organization.id):
        raise PermanentError(
            f"educator {educator_id} does not work at {organization.short_name} ({organization.id})"
        )


def _domain(error: DomainError) -> PermanentError:
    where = f"{error.field}: " if error.field else ""
    return PermanentError(f"{where}{error.message}")


async def activity_recorded(session: AsyncSession, data: ActivityRecordedByRegion, event: CloudEvent) -> None:
    """Upsert by (source system, external id); an older version than the stored one is ignored."""
    host = await resolve_organization(session, data.host, role="host organization")
    if data.network_id is not None:
        network = await session.get(KnownNetwork, data.network_id)
        if network is None:
            raise NotYetKnown(f"network {data.network_id} is not registered in Setka yet")
        if not await is_member(session, network.id, host.id, data.starts_at.date()):
            raise PermanentError(
                f"host {host.short_name} ({host.id}) is not a member of the network «{network.name}» "
                f"on {data.starts_at.date()}"
            )
    if data.status == RegionalActivityStatus.held and data.starts_at > datetime.now(UTC):
        raise PermanentError(
            f"status is held but the activity starts in the future ({data.starts_at.isoformat()})"
        )
    activity = await session.scalar(
        select(Activity)
        .where(Activity.source_system == data.source_system, Activity.external_id == data.external_id)
        .with_for_update()
    )
    if (
        activity is not None
        and activity.source_updated_at
        and aware(activity.source_updated_at) >= data.updated_at
    ):
        return  # the same version again, or an older one arriving late
    fresh = activity is None
    if activity is None:
        activity = Activity(
            id=fact_id("activity", data.source_system, data.external_id),
            source_system=data.source_system,
            external_id=data.external_id,
            host_organization_id=host.id,
            title=data.title,
            activity_type=data.activity_type.value,
            format=data.format.value,
            starts_at=utc(data.starts_at),
            ends_at=utc(data.ends_at),
        )
        session.add(activity)
    activity.title = data.title
    activity.activity_type = data.activity_type.value
    activity.processes = [p.value for p in data.processes]
    activity.format = data.format.value
    activity.host_organization_id = host.id
    activity.network_id = data.network_id
    activity.starts_at, activity.ends_at = utc(data.starts_at), utc(data.ends_at)
    activity.audience = data.audience
    activity.capacity = data.capacity
    activity.status = ActivityStatus(data.status.value).value
    activity.source_updated_at = utc(data.updated_at)
    activity.updated_at = now()
    await session.flush()
    model = activities.ActivityPlanned if fresh else ActivityUpdatedByRegion
    await outbox.record(session, activities.planned_event(activity, model), source=SOURCE)


async def attendance_recorded(
    session: AsyncSession, data: AttendanceRecordedByRegion, event: CloudEvent
) -> None:
    activity = await session.scalar(
        select(Activity)
        .where(
            Activity.source_system == data.source_system, Activity.external_id == data.activity_external_id
        )
        .with_for_update()
    )
    if activity is None:
        raise NotYetKnown(
            f"activity {data.activity_external_id!r} of {data.source_system!r} is not recorded yet"
        )
    organization = await resolve_organization(session, data.organization, role="participating organization")
    if data.educator_id is not None:
        await resolve_educator(session, data.educator_id, organization)
    if activity.status in (ActivityStatus.cancelled, ActivityStatus.postponed):
        raise PermanentError(
            f"activity {data.activity_external_id!r} is {activity.status}: nobody attended it"
        )
    if aware(activity.starts_at) > datetime.now(UTC):
        raise PermanentError(f"activity {data.activity_external_id!r} has not started yet")
    if activity.status not in participation.TOOK_PLACE:
        # the regional system records attendance of what took place: that the activity was held
        activity.status = ActivityStatus.held.value
        activity.updated_at = now()
        await outbox.record(
            session,
            activities.ActivityHeld(activity_id=activity.id, changed_at=activity.updated_at),
            source=SOURCE,
        )
    try:
        await participation.record_attendance(
            session,
            activity,
            participation.Participant(organization.id, data.educator_id),
            data.hours,
            source_system=data.source_system,
            as_of=aware(event.time),
        )
    except DomainError as error:
        raise _domain(error) from None


async def assessment_published(
    session: AsyncSession, data: AssessmentResultPublished, event: CloudEvent
) -> None:
    """One row per school, procedure, subject, grade and year; a correction replaces the numbers."""
    organization = await resolve_organization(session, data.organization, role="school")
    if organization.kind != "school":
        raise PermanentError(
            f"{organization.short_name} ({organization.id}) is a {organization.kind}, not a school"
        )
    row = await session.scalar(
        select(AssessmentResult)
        .where(
            AssessmentResult.organization_id == organization.id,
            AssessmentResult.procedure == data.procedure.value,
            AssessmentResult.subject == data.subject,
            AssessmentResult.grade == data.grade,
            AssessmentResult.year == data.year,
        )
        .with_for_update()
    )
    numbers = {
        "participants": data.participants,
        "mean_score": data.mean_score,
        "mark_shares": data.mark_shares,
    }
    if row is not None and all(getattr(row, name) == value for name, value in numbers.items()):
        return
    if row is None:
        row = AssessmentResult(
            id=fact_id(
                "assessment", organization.id, data.procedure.value, data.subject, data.grade, data.year
            ),
            organization_id=organization.id,
            procedure=data.procedure.value,
            subject=data.subject,
            grade=data.grade,
            year=data.year,
            source_system=data.source_system,
            external_id=data.external_id,
            **numbers,
        )
        session.add(row)
    else:
        for name, value in numbers.items():
            setattr(row, name, value)
        row.source_system, row.external_id, row.recorded_at = data.source_system, data.external_id, now()
    await session.flush()
    await outbox.record(
        session,
        AssessmentResultRecorded(
            result_id=row.id,
            organization_id=organization.id,
            procedure=row.procedure,
            subject=row.subject,
            grade=row.grade,
            year=row.year,
            participants=row.participants,
            mean_score=row.mean_score,
            mark_shares=row.mark_shares,
            source_system=row.source_system,
        ),
        source=SOURCE,
    )


async def _educator_fact(
    session: AsyncSession,
    model: type[Training] | type[Deficit],
    data: TrainingCompleted | DeficitDiagnosed,
    values: dict[str, Any],
) -> Training | Deficit | None:
    """Upsert a fact about an educator by (source system, external id); None when unchanged."""
    organization = await resolve_organization(session, data.organization, role="educator's organization")
    await resolve_educator(session, data.educator_id, organization)
    values = {"educator_id": data.educator_id, "organization_id": organization.id, **values}
    row = await session.scalar(
        select(model)
        .where(model.source_system == data.source_system, model.external_id == data.external_id)
        .with_for_update()
    )
    if row is not None and all(getattr(row, name) == value for name, value in values.items()):
        return None
    if row is None:
        row = model(
            id=fact_id(model.__tablename__, data.source_system, data.external_id),
            source_system=data.source_system,
            external_id=data.external_id,
            **values,
        )
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
        row.recorded_at = now()
    await session.flush()
    return row


async def training_completed(session: AsyncSession, data: TrainingCompleted, event: CloudEvent) -> None:
    row = await _educator_fact(
        session,
        Training,
        data,
        {
            "course": data.course,
            "provider": data.provider,
            "hours": data.hours,
            "completed_on": data.completed_on,
        },
    )
    if isinstance(row, Training):
        await outbox.record(
            session,
            TrainingRecorded(
                training_id=row.id,
                educator_id=row.educator_id,
                organization_id=row.organization_id,
                course=row.course,
                provider=row.provider,
                hours=row.hours,
                completed_on=row.completed_on,
                source_system=row.source_system,
            ),
            source=SOURCE,
        )


async def deficit_diagnosed(session: AsyncSession, data: DeficitDiagnosed, event: CloudEvent) -> None:
    row = await _educator_fact(
        session,
        Deficit,
        data,
        {"competency": data.competency, "level": data.level.value, "diagnosed_on": data.diagnosed_on},
    )
    if isinstance(row, Deficit):
        await outbox.record(
            session,
            DeficitRecorded(
                deficit_id=row.id,
                educator_id=row.educator_id,
                organization_id=row.organization_id,
                competency=row.competency,
                level=row.level,
                diagnosed_on=row.diagnosed_on,
                source_system=row.source_system,
            ),
            source=SOURCE,
        )


Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]

INBOUND: dict[str, dict[Any, Handler]] = {
    topics.REGIONAL_ACTIVITIES: {ActivityRecordedByRegion: activity_recorded},
    topics.REGIONAL_ATTENDANCE: {AttendanceRecordedByRegion: attendance_recorded},
    topics.REGIONAL_ASSESSMENTS: {AssessmentResultPublished: assessment_published},
    topics.REGIONAL_TRAININGS: {TrainingCompleted: training_completed},
    topics.REGIONAL_DEFICITS: {DeficitDiagnosed: deficit_diagnosed},
}
"""The handlers of each inbound topic."""
