"""The inbound contract: facts regional systems publish to ``regional.*`` become our events.

Each handler runs in the guarded consumer's transaction, after :mod:`.admission` checked the
fact's source and grants and resolved what it names to Setka's ids. A fact that breaks a rule raises
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
    ActivityRecordedByRegionV2,
    AssessmentResultPublished,
    AssessmentResultPublishedV2,
    AttendanceRecordedByRegion,
    AttendanceRecordedByRegionV2,
    DeficitDiagnosed,
    DeficitDiagnosedV2,
    OrganizationRef,
    RegionalActivityStatus,
    TrainingCompleted,
    TrainingCompletedV2,
)
from setka_runtime import outbox
from setka_runtime.consumer import BatchHandler, Item, batch, one_at_a_time
from setka_runtime.errors import DomainError, NotYetKnown, PermanentError
from setka_runtime.moments import aware, utc
from setka_runtime.sql import dialect_insert
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from . import activities, participation
from .common import SOURCE, is_member, works_at
from .models import (
    Activity,
    AssessmentResult,
    Deficit,
    KnownEducator,
    KnownEmployment,
    KnownNetwork,
    KnownOrganization,
    Training,
    now,
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
    return PermanentError(f"{where}{error.message} [{error.code}]")


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
        and not _newer(activity.source_updated_at, data.version())
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
            as_of=utc(data.version()),
        )
    except DomainError as error:
        raise _domain(error) from None


def _newer(stored: datetime | None, version: datetime) -> bool:
    """Whether a fact of sender's ``version`` replaces what is kept (an equal version is a repeat)."""
    return stored is None or aware(stored) < version


class _Facts:
    """What a run of inbound facts refers to, read in bulk: organizations, educators, employments."""

    def __init__(self) -> None:
        self.by_id: dict[uuid.UUID, Any] = {}
        self.by_inn: dict[str, Any] = {}
        self.educators: set[uuid.UUID] = set()
        self.employments: set[tuple[uuid.UUID, uuid.UUID]] = set()

    @classmethod
    async def load(cls, session: AsyncSession, items: list[Item], *, educators: bool = False) -> _Facts:
        facts = cls()
        refs = [item.data.organization for item in items]
        ids = {ref.id for ref in refs if ref.id is not None}
        inns = {ref.inn for ref in refs if ref.id is None and ref.inn is not None}
        table = KnownOrganization.__table__
        columns = (table.c.id, table.c.inn, table.c.kind, table.c.short_name)
        for chunk in _chunks(sorted(ids, key=str)):
            for row in await session.execute(select(*columns).where(table.c.id.in_(chunk))):
                facts.by_id[row.id] = row
        for chunk in _chunks(sorted(inns)):
            for row in await session.execute(select(*columns).where(table.c.inn.in_(chunk))):
                facts.by_inn[row.inn] = row
        if educators:
            wanted = sorted({item.data.educator_id for item in items}, key=str)
            employment = KnownEmployment.__table__
            for chunk in _chunks(wanted):
                educator = KnownEducator.__table__
                facts.educators.update(
                    (await session.scalars(select(educator.c.id).where(educator.c.id.in_(chunk)))).all()
                )
                pairs = await session.execute(
                    select(employment.c.educator_id, employment.c.organization_id).where(
                        employment.c.educator_id.in_(chunk)
                    )
                )
                facts.employments.update((row.educator_id, row.organization_id) for row in pairs)
        return facts

    def organization(self, item: Item, ref: OrganizationRef, *, role: str) -> Any | None:
        """The organization, or None with the item deferred: it is not registered yet."""
        found = self.by_id.get(ref.id) if ref.id is not None else self.by_inn.get(ref.inn or "")
        if found is None:
            item.defer(f"{role} ({ref.describe()}) is not registered in Setka yet")
        return found

    def educator(self, item: Item, educator_id: uuid.UUID, organization: Any) -> bool:
        """Whether the educator is known and works at the organization; else the item is set aside."""
        if educator_id not in self.educators:
            item.defer(f"educator {educator_id} is not registered in Setka yet")
            return False
        if (educator_id, organization.id) not in self.employments:
            item.reject(
                f"educator {educator_id} does not work at {organization.short_name} ({organization.id})"
            )
            return False
        return True


def _chunks(values: list[Any], size: int = 1000) -> list[list[Any]]:
    return [values[start : start + size] for start in range(0, len(values), size)]


async def _stored(session: AsyncSession, table: Any, ids: set[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """The kept rows of ``table`` with these ids, as dictionaries."""
    kept: dict[uuid.UUID, dict[str, Any]] = {}
    for chunk in _chunks(sorted(ids, key=str)):
        for row in await session.execute(select(table).where(table.c.id.in_(chunk))):
            kept[row.id] = dict(row._mapping)
    return kept


async def _write(session: AsyncSession, table: Any, rows: dict[uuid.UUID, dict[str, Any]]) -> None:
    """Insert or replace the final state of every changed row, by id (one statement, many rows)."""
    values = list(rows.values())
    statement = dialect_insert(session, table)
    statement = statement.on_conflict_do_update(
        index_elements=["id"], set_={name: statement.excluded[name] for name in values[0] if name != "id"}
    )
    await session.execute(statement, values)


@batch
async def assessments_published(session: AsyncSession, items: list[Item]) -> None:
    """One row per school, procedure, subject, grade and year; a newer version replaces the numbers."""
    facts = await _Facts.load(session, items)
    table = AssessmentResult.__table__
    keyed: list[tuple[Item, Any, uuid.UUID]] = []
    for item in items:
        data: AssessmentResultPublished = item.data
        organization = facts.organization(item, data.organization, role="school")
        if organization is None:
            continue
        if organization.kind != "school":
            item.reject(
                f"{organization.short_name} ({organization.id}) is a {organization.kind}, not a school"
            )
            continue
        key = fact_id(
            "assessment", organization.id, data.procedure.value, data.subject, data.grade, data.year
        )
        keyed.append((item, organization, key))
    state = await _stored(session, table, {key for _, _, key in keyed})
    changed: dict[uuid.UUID, dict[str, Any]] = {}
    events: list[AssessmentResultRecorded] = []
    for item, organization, key in keyed:
        data = item.data
        version = utc(data.version())
        row = state.get(key)
        if row is not None and not _newer(row.get("source_version"), version):
            continue  # the same version again, or an older one arriving late
        numbers = {
            "participants": data.participants,
            "mean_score": data.mean_score,
            "mark_shares": data.mark_shares,
        }
        same = row is not None and all(row[name] == value for name, value in numbers.items())
        row = {
            "id": key,
            "organization_id": organization.id,
            "procedure": data.procedure.value,
            "subject": data.subject,
            "grade": data.grade,
            "year": data.year,
            **numbers,
            "source_system": data.source_system,
            "external_id": data.external_id,
            "recorded_at": (row or {}).get("recorded_at") if same else now(),
            "source_version": version,
        }
        row["recorded_at"] = row["recorded_at"] or now()
        state[key] = changed[key] = row
        if not same:
            events.append(
                AssessmentResultRecorded(
                    result_id=key,
                    organization_id=organization.id,
                    procedure=row["procedure"],
                    subject=row["subject"],
                    grade=row["grade"],
                    year=row["year"],
                    participants=row["participants"],
                    mean_score=row["mean_score"],
                    mark_shares=row["mark_shares"],
                    source_system=row["source_system"],
                )
            )
    if changed:
        await _write(session, table, changed)
    await outbox.record_many(session, events, source=SOURCE)


async def _educator_facts(
    session: AsyncSession,
    items: list[Item],
    model: type[Training] | type[Deficit],
    values: Callable[[Any], dict[str, Any]],
    event: Callable[[dict[str, Any]], Any],
) -> None:
    """Upsert facts about educators by (source system, external id); a newer version replaces."""
    facts = await _Facts.load(session, items, educators=True)
    table = model.__table__
    accepted: list[tuple[Item, Any, uuid.UUID]] = []
    for item in items:
        data = item.data
        organization = facts.organization(item, data.organization, role="educator's organization")
        if organization is None or not facts.educator(item, data.educator_id, organization):
            continue
        accepted.append(
            (item, organization, fact_id(model.__tablename__, data.source_system, data.external_id))
        )
    state = await _stored(session, table, {key for _, _, key in accepted})
    changed: dict[uuid.UUID, dict[str, Any]] = {}
    events = []
    for item, organization, key in accepted:
        data = item.data
        version = utc(data.version())
        row = state.get(key)
        if row is not None and not _newer(row.get("source_version"), version):
            continue
        fields = {"educator_id": data.educator_id, "organization_id": organization.id, **values(data)}
        same = row is not None and all(row[name] == value for name, value in fields.items())
        row = {
            "id": key,
            "source_system": data.source_system,
            "external_id": data.external_id,
            **fields,
            "recorded_at": (row or {}).get("recorded_at") if same else now(),
            "source_version": version,
        }
        row["recorded_at"] = row["recorded_at"] or now()
        state[key] = changed[key] = row
        if not same:
            events.append(event(row))
    if changed:
        await _write(session, table, changed)
    await outbox.record_many(session, events, source=SOURCE)


@batch
async def trainings_completed(session: AsyncSession, items: list[Item]) -> None:
    await _educator_facts(
        session,
        items,
        Training,
        lambda data: {
            "course": data.course,
            "provider": data.provider,
            "hours": data.hours,
            "completed_on": data.completed_on,
        },
        lambda row: TrainingRecorded(
            training_id=row["id"],
            educator_id=row["educator_id"],
            organization_id=row["organization_id"],
            course=row["course"],
            provider=row["provider"],
            hours=row["hours"],
            completed_on=row["completed_on"],
            source_system=row["source_system"],
        ),
    )


@batch
async def deficits_diagnosed(session: AsyncSession, items: list[Item]) -> None:
    await _educator_facts(
        session,
        items,
        Deficit,
        lambda data: {
            "competency": data.competency,
            "level": data.level.value,
            "diagnosed_on": data.diagnosed_on,
        },
        lambda row: DeficitRecorded(
            deficit_id=row["id"],
            educator_id=row["educator_id"],
            organization_id=row["organization_id"],
            competency=row["competency"],
            level=row["level"],
            diagnosed_on=row["diagnosed_on"],
            source_system=row["source_system"],
        ),
    )


assessment_published = one_at_a_time(assessments_published)
training_completed = one_at_a_time(trainings_completed)
deficit_diagnosed = one_at_a_time(deficits_diagnosed)

Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]

INBOUND: dict[str, dict[Any, Handler | BatchHandler]] = {
    topics.REGIONAL_ACTIVITIES: {
        ActivityRecordedByRegion: activity_recorded,
        ActivityRecordedByRegionV2: activity_recorded,
    },
    topics.REGIONAL_ATTENDANCE: {
        AttendanceRecordedByRegion: attendance_recorded,
        AttendanceRecordedByRegionV2: attendance_recorded,
    },
    topics.REGIONAL_ASSESSMENTS: {
        AssessmentResultPublished: assessments_published,
        AssessmentResultPublishedV2: assessments_published,
    },
    topics.REGIONAL_TRAININGS: {
        TrainingCompleted: trainings_completed,
        TrainingCompletedV2: trainings_completed,
    },
    topics.REGIONAL_DEFICITS: {DeficitDiagnosed: deficits_diagnosed, DeficitDiagnosedV2: deficits_diagnosed},
}
"""The handlers of each inbound topic. A version 2 fact reaches its handler as the version 1 fact
it stands for: :mod:`.admission` (the gate of these topics' consumers) has resolved its references
to Setka's ids by then."""
