"""Taking part in an activity: registration, attendance (who and how many hours), feedback."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from setka_contracts.events import ActivityStatus, AttendanceRecorded, FeedbackGiven, ParticipantRegistered
from setka_runtime import outbox
from setka_runtime.errors import DomainError
from setka_runtime.moments import aware
from setka_runtime.russian import number
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from .common import ACTIVITY_STATUS_NAMES, SOURCE, known_educator, known_organization, optional_text
from .models import Activity, Attendance, Feedback, Registration, now, participant_key

TOOK_PLACE = {ActivityStatus.held, ActivityStatus.reported}


@dataclass(frozen=True)
class Participant:
    """An educator of an organization, or the organization as a whole (no educator)."""

    organization_id: uuid.UUID
    educator_id: uuid.UUID | None = None

    @property
    def key(self) -> str:
        return participant_key(self.organization_id, self.educator_id)


async def check_participant(session: AsyncSession, participant: Participant) -> None:
    await known_organization(session, participant.organization_id, field="organizationId")
    if participant.educator_id is not None:
        await known_educator(
            session, participant.educator_id, organization_id=participant.organization_id, field="educatorId"
        )


async def register(session: AsyncSession, activity: Activity, participant: Participant) -> Registration:
    """Register for an announced activity, within its capacity (a planned one is not open yet: its
    host may still change it; a postponed one opens again when announced with its new dates)."""
    if activity.status != ActivityStatus.announced:
        raise DomainError(
            "Запись открыта только на объявленное мероприятие, а это —"
            f" {ACTIVITY_STATUS_NAMES[activity.status]}",
            code="REGISTRATION_CLOSED",
            field="activityId",
        )
    await check_participant(session, participant)
    taken = await session.scalar(
        select(func.count()).select_from(Registration).where(Registration.activity_id == activity.id)
    )
    if activity.capacity is not None and (taken or 0) >= activity.capacity:
        raise DomainError(
            f"Мест нет: все {activity.capacity} заняты", code="ACTIVITY_FULL", field="activityId"
        )
    already = await session.scalar(
        select(Registration.id).where(
            Registration.activity_id == activity.id, Registration.participant == participant.key
        )
    )
    if already:
        raise DomainError(
            "Уже записан",
            code="ALREADY_REGISTERED",
            field="educatorId" if participant.educator_id else "organizationId",
        )
    registration = Registration(
        activity_id=activity.id,
        organization_id=participant.organization_id,
        educator_id=participant.educator_id,
        participant=participant.key,
    )
    session.add(registration)
    await session.flush()
    await outbox.record(
        session,
        ParticipantRegistered(
            activity_id=activity.id,
            registration_id=registration.id,
            organization_id=registration.organization_id,
            educator_id=registration.educator_id,
        ),
        source=SOURCE,
    )
    return registration


def check_hours(activity: Activity, hours: float) -> float:
    """Hours are positive and no more than the activity lasted (a course may span weeks)."""
    length = (aware(activity.ends_at) - aware(activity.starts_at)).total_seconds() / 3600
    if hours <= 0:
        raise DomainError("Часов должно быть больше нуля", code="HOURS_NOT_POSITIVE", field="hours")
    if hours > length + 1e-9:
        raise DomainError(
            f"Больше, чем длилось мероприятие ({number(length)} ч)", code="HOURS_EXCEED_LENGTH", field="hours"
        )
    return round(hours, 2)


async def record_attendance(
    session: AsyncSession,
    activity: Activity,
    participant: Participant,
    hours: float,
    *,
    source_system: str | None = None,
    as_of: datetime | None = None,
) -> tuple[Attendance, bool]:
    """Record (or correct) who took part and how long; returns the row and whether it changed.

    Recording the same attendance again changes nothing and records no event. ``as_of`` is the
    sender's version of the fact: a version not newer than the one kept (a repeat, or a retried,
    parked message overtaken by a newer one) changes nothing either.
    """
    if activity.status not in TOOK_PLACE:
        raise DomainError(
            "Посещаемость отмечают после проведения, а мероприятие —"
            f" {ACTIVITY_STATUS_NAMES[activity.status]}",
            code="ACTIVITY_NOT_HELD",
            field="activityId",
        )
    hours = check_hours(activity, hours)
    await check_participant(session, participant)
    row = await session.scalar(
        select(Attendance)
        .where(Attendance.activity_id == activity.id, Attendance.participant == participant.key)
        .with_for_update()
    )
    if row is not None and as_of is not None and row.source_version and aware(row.source_version) >= as_of:
        return row, False  # the same version again, or an older one arriving late
    if row is not None and row.hours == hours:
        if as_of is not None:
            row.source_version = as_of
        return row, False
    if row is None:
        row = Attendance(
            activity_id=activity.id,
            organization_id=participant.organization_id,
            educator_id=participant.educator_id,
            participant=participant.key,
            hours=hours,
            source_system=source_system,
            source_version=as_of,
        )
        session.add(row)
    else:
        row.hours = hours
        row.recorded_at = now()
        row.source_version = as_of
    await session.flush()
    await outbox.record(
        session,
        AttendanceRecorded(
            activity_id=activity.id,
            attendance_id=row.id,
            organization_id=row.organization_id,
            educator_id=row.educator_id,
            hours=row.hours,
            source_system=source_system,
        ),
        source=SOURCE,
    )
    return row, True


async def give_feedback(
    session: AsyncSession,
    activity: Activity,
    rating: int,
    comment: str | None = None,
    *,
    organization_id: uuid.UUID | None = None,
    at: datetime | None = None,
) -> Feedback:
    """A participating organization's rating (1–5) and comment, once the activity has taken
    place: one per organization and activity (giving it again replaces it), never the host's own."""
    if activity.status not in TOOK_PLACE:
        raise DomainError(
            f"Отзыв оставляют после проведения, а мероприятие — {ACTIVITY_STATUS_NAMES[activity.status]}",
            code="ACTIVITY_NOT_HELD",
            field="activityId",
        )
    if not 1 <= rating <= 5:
        raise DomainError("Оценка — от 1 до 5", code="RATING_OUT_OF_RANGE", field="rating")
    if organization_id is None or organization_id == activity.host_organization_id:
        raise DomainError(
            "Отзыв оставляет участвовавшая организация; проводившая своё мероприятие не оценивает",
            code="FEEDBACK_BY_HOST",
            field="organizationId",
        )
    await known_organization(session, organization_id, field="organizationId")
    text = optional_text(comment, field="comment", limit=2000)
    feedback = await session.scalar(
        select(Feedback)
        .where(Feedback.activity_id == activity.id, Feedback.organization_id == organization_id)
        .with_for_update()
    )
    if feedback is None:
        feedback = Feedback(activity_id=activity.id, organization_id=organization_id)
        session.add(feedback)
    feedback.rating, feedback.comment, feedback.created_at = rating, text, at or now()
    await session.flush()
    await outbox.record(
        session,
        FeedbackGiven(
            activity_id=activity.id,
            feedback_id=feedback.id,
            rating=rating,
            comment=feedback.comment,
            organization_id=organization_id,
        ),
        source=SOURCE,
    )
    return feedback
