"""The inbound contract: facts regional systems publish to ``regional.*`` become our events.

Each topic has a batch handler that runs in the guarded consumer's transaction, after
:mod:`.admission` checked the facts' source and grants and resolved what they name to Setka's
ids. It applies the rules to each fact in order, reading what the batch refers to and writing what
it changes in bulk. A fact that breaks a rule is rejected (to the dead-letter topic alone, with the
reason); one that refers to an organization, educator or activity we do not know yet is deferred
and waits; the others are applied. Facts are upserted by their natural keys, so sending one again
changes nothing; each event recorded keeps the trace context of the message it came from.
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
    AttendanceRecorded,
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
from setka_runtime import outbox, tracing
from setka_runtime.consumer import BatchHandler, Item, batch, one_at_a_time
from setka_runtime.errors import DomainError, PermanentError
from setka_runtime.moments import aware, utc
from setka_runtime.sql import dialect_insert
from sqlalchemy import select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from . import activities, identities, participation
from .common import SOURCE
from .models import (
    Activity,
    AssessmentResult,
    Attendance,
    Deficit,
    KnownEducator,
    KnownEmployment,
    KnownMembership,
    KnownNetwork,
    KnownOrganization,
    Training,
    now,
    participant_key,
)

NAMESPACE = uuid.UUID("6f1d8f0e-4d55-4c7a-9a55-2b1c3f7f5e10")


def fact_id(kind: str, *parts: object) -> uuid.UUID:
    """A stable id of an inbound fact from its natural key, the same on every redelivery."""
    return uuid.uuid5(NAMESPACE, "\x1f".join([kind, *(str(p) for p in parts)]))


def _domain(error: DomainError) -> PermanentError:
    where = f"{error.field}: " if error.field else ""
    return PermanentError(f"{where}{error.message} [{error.code}]")


async def _record_all(session: AsyncSession, events: list[tuple[Item, Any]]) -> None:
    """Record the events of a batch in one statement, each with its own message's trace context."""
    await outbox.record_many(
        session,
        [data for _, data in events],
        source=SOURCE,
        traceparents=[tracing.traceparent_of(item.span) for item, _ in events],
    )


async def _activities_by_source(
    session: AsyncSession, keys: set[tuple[str, str]]
) -> dict[tuple[str, str], Activity]:
    """The activities of these (source system, external id) pairs, locked for the transaction."""
    found: dict[tuple[str, str], Activity] = {}
    by_system: dict[str, set[str]] = {}
    for system, external in keys:
        by_system.setdefault(system, set()).add(external)
    for system, externals in sorted(by_system.items()):
        for chunk in _chunks(sorted(externals)):
            rows = await session.scalars(
                select(Activity)
                .where(Activity.source_system == system, Activity.external_id.in_(chunk))
                .order_by(Activity.id)
                .with_for_update()
            )
            for activity in rows.all():
                found[(system, activity.external_id or "")] = activity
    return found


@batch
async def activities_recorded(session: AsyncSession, items: list[Item]) -> None:
    """Upsert by (source system, external id); an older version than the stored one is ignored.
    The rules per message, in order, with the hosts, networks, memberships and activities read in
    bulk; a later message of the batch about the same activity sees what an earlier one did."""
    facts = await _Facts.load(session, items, refs=lambda data: data.host)
    network_ids = sorted({item.data.network_id for item in items if item.data.network_id}, key=str)
    networks: dict[uuid.UUID, Any] = {}
    memberships: dict[tuple[uuid.UUID, uuid.UUID], list[Any]] = {}
    table, members = KnownNetwork.__table__, KnownMembership.__table__
    for chunk in _chunks(network_ids):
        for row in await session.execute(select(table.c.id, table.c.name).where(table.c.id.in_(chunk))):
            networks[row.id] = row
        rows = await session.execute(
            select(
                members.c.network_id, members.c.organization_id, members.c.joined_on, members.c.left_on
            ).where(members.c.network_id.in_(chunk))
        )
        for row in rows:
            memberships.setdefault((row.network_id, row.organization_id), []).append(row)
    stored = await _activities_by_source(
        session, {(item.data.source_system, item.data.external_id) for item in items}
    )
    events: list[tuple[Item, Any]] = []
    for item in items:
        data: ActivityRecordedByRegion = item.data
        host = facts.organization(item, data.host, role="host organization")
        if host is None:
            continue
        if data.network_id is not None:
            network = networks.get(data.network_id)
            if network is None:
                item.defer(f"network {data.network_id} is not registered in Setka yet")
                continue
            on = data.starts_at.date()
            if not any(
                m.joined_on <= on and (m.left_on is None or m.left_on > on)
                for m in memberships.get((network.id, host.id), [])
            ):
                item.reject(
                    f"host {host.short_name} ({host.id}) is not a member of the network «{network.name}» "
                    f"on {on}"
                )
                continue
        if data.status == RegionalActivityStatus.held and data.starts_at > datetime.now(UTC):
            item.reject(
                f"status is held but the activity starts in the future ({data.starts_at.isoformat()})"
            )
            continue
        key = (data.source_system, data.external_id)
        activity = stored.get(key)
        if (
            activity is not None
            and activity.source_updated_at
            and not _newer(activity.source_updated_at, data.version())
        ):
            continue  # the same version again, or an older one arriving late
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
            stored[key] = activity
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
        model = activities.ActivityPlanned if fresh else ActivityUpdatedByRegion
        events.append((item, activities.planned_event(activity, model)))
    await session.flush()
    await _record_all(session, events)


@batch
async def attendances_recorded(session: AsyncSession, items: list[Item]) -> None:
    """Who took part and how long, per message in order, with the activities, organizations,
    educators and kept attendance read in bulk and written in one statement. An activity not held
    yet becomes held with its first attendance that is accepted (a rejected one leaves it as it was)."""
    facts = await _Facts.load(session, items, educators=True)
    stored = await _activities_by_source(
        session, {(item.data.source_system, item.data.activity_external_id) for item in items}
    )
    table = Attendance.__table__
    kept: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
    pairs: set[tuple[uuid.UUID, str]] = set()
    for item in items:
        activity, organization = stored.get(_activity_key(item)), facts.find(item.data.organization)
        if activity is not None and organization is not None:
            pairs.add((activity.id, participant_key(organization.id, item.data.educator_id)))
    for chunk in _chunks(sorted(pairs, key=str)):
        rows = await session.execute(
            select(table)
            .where(tuple_(table.c.activity_id, table.c.participant).in_(chunk))
            .order_by(table.c.id)
            .with_for_update()
        )
        for row in rows:
            kept[(row.activity_id, row.participant)] = dict(row._mapping)
    changed: dict[tuple[uuid.UUID, str], dict[str, Any]] = {}
    events: list[tuple[Item, Any]] = []
    for item in items:
        data: AttendanceRecordedByRegion = item.data
        activity = stored.get(_activity_key(item))
        if activity is None:
            item.defer(
                f"activity {data.activity_external_id!r} of {data.source_system!r} is not recorded yet"
            )
            continue
        organization = facts.organization(item, data.organization, role="participating organization")
        if organization is None:
            continue
        if data.educator_id is not None and not facts.educator(item, data.educator_id, organization):
            continue
        if activity.status in (ActivityStatus.cancelled, ActivityStatus.postponed):
            item.reject(f"activity {data.activity_external_id!r} is {activity.status}: nobody attended it")
            continue
        if aware(activity.starts_at) > datetime.now(UTC):
            item.reject(f"activity {data.activity_external_id!r} has not started yet")
            continue
        try:
            hours = participation.check_hours(activity, data.hours)
        except DomainError as error:
            item.reject(str(_domain(error)))
            continue
        if organization.archived_at is not None:
            error = DomainError(
                f"Организация {organization.short_name} выбыла из реестра",
                code="ORGANIZATION_ARCHIVED",
                field="organizationId",
            )
            item.reject(str(_domain(error)))
            continue
        if activity.status not in participation.TOOK_PLACE:
            # the regional system records attendance of what took place: that the activity was held
            activity.status = ActivityStatus.held.value
            activity.updated_at = now()
            events.append(
                (item, activities.ActivityHeld(activity_id=activity.id, changed_at=activity.updated_at))
            )
        participant = participation.Participant(organization.id, data.educator_id)
        as_of = utc(data.version())
        pair = (activity.id, participant.key)
        row = kept.get(pair)
        if row is not None and row["source_version"] and aware(row["source_version"]) >= as_of:
            continue  # the same version again, or an older one arriving late
        if row is not None and row["hours"] == hours:
            kept[pair] = changed[pair] = {**row, "source_version": as_of}
            continue
        if row is None:
            row = {
                "id": uuid.uuid4(),
                "activity_id": activity.id,
                "organization_id": participant.organization_id,
                "educator_id": participant.educator_id,
                "participant": participant.key,
                "hours": hours,
                "source_system": data.source_system,
                "source_version": as_of,
                "recorded_at": now(),
            }
        else:
            row = {**row, "hours": hours, "recorded_at": now(), "source_version": as_of}
        kept[pair] = changed[pair] = row
        events.append(
            (
                item,
                AttendanceRecorded(
                    activity_id=activity.id,
                    attendance_id=row["id"],
                    organization_id=row["organization_id"],
                    educator_id=row["educator_id"],
                    hours=row["hours"],
                    source_system=data.source_system,
                ),
            )
        )
    await session.flush()  # the activities held: before their attendance (its foreign key)
    if changed:
        values = list(changed.values())
        statement = dialect_insert(session, table)
        statement = statement.on_conflict_do_update(
            index_elements=["id"],
            set_={name: statement.excluded[name] for name in values[0] if name != "id"},
        )
        await session.execute(statement, values)
    await _record_all(session, events)


def _activity_key(item: Item) -> tuple[str, str]:
    return (item.data.source_system, item.data.activity_external_id)


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
    async def load(
        cls,
        session: AsyncSession,
        items: list[Item],
        *,
        educators: bool = False,
        refs: Callable[[Any], OrganizationRef] = lambda data: data.organization,
    ) -> _Facts:
        """What ``items`` refer to: the organizations ``refs`` gives of each, their educators'."""
        facts = cls()
        given = [refs(item.data) for item in items]
        ids = {ref.id for ref in given if ref.id is not None}
        inns = {ref.inn for ref in given if ref.id is None and ref.inn is not None}
        read = identities.OrganizationsRead.of(session)  # what the gate read: not read again
        if read is not None:
            for row in read.rows:
                if row.id in ids:
                    facts.by_id[row.id] = row
                if row.inn in inns and row.inn in read.inns:
                    facts.by_inn[row.inn] = row
            ids -= read.ids
            inns -= read.inns
        table = KnownOrganization.__table__
        columns = tuple(table.c[name] for name in identities.ORGANIZATION_COLUMNS)
        for chunk in _chunks(sorted(ids, key=str)):
            for row in await session.execute(select(*columns).where(table.c.id.in_(chunk))):
                facts.by_id[row.id] = row
        for chunk in _chunks(sorted(inns)):
            for row in await session.execute(select(*columns).where(table.c.inn.in_(chunk))):
                facts.by_inn[row.inn] = row
        if educators:
            wanted = sorted({item.data.educator_id for item in items} - {None}, key=str)
            educator, employment = KnownEducator.__table__, KnownEmployment.__table__
            for chunk in _chunks(wanted):
                # the educators and where they work, in one statement
                rows = await session.execute(
                    select(educator.c.id, employment.c.organization_id)
                    .select_from(educator)
                    .outerjoin(employment, employment.c.educator_id == educator.c.id)
                    .where(educator.c.id.in_(chunk))
                )
                for row in rows:
                    facts.educators.add(row.id)
                    if row.organization_id is not None:
                        facts.employments.add((row.id, row.organization_id))
        return facts

    def find(self, ref: OrganizationRef) -> Any | None:
        """The organization ``ref`` names, if registered (nothing is deferred)."""
        return self.by_id.get(ref.id) if ref.id is not None else self.by_inn.get(ref.inn or "")

    def organization(self, item: Item, ref: OrganizationRef, *, role: str) -> Any | None:
        """The organization, or None with the item deferred: it is not registered yet."""
        found = self.find(ref)
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
    events: list[tuple[Item, Any]] = []
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
                (
                    item,
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
                    ),
                )
            )
    if changed:
        await _write(session, table, changed)
    await _record_all(session, events)


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
    events: list[tuple[Item, Any]] = []
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
            events.append((item, event(row)))
    if changed:
        await _write(session, table, changed)
    await _record_all(session, events)


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


activity_recorded = one_at_a_time(activities_recorded)
attendance_recorded = one_at_a_time(attendances_recorded)
assessment_published = one_at_a_time(assessments_published)
training_completed = one_at_a_time(trainings_completed)
deficit_diagnosed = one_at_a_time(deficits_diagnosed)

Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]

INBOUND: dict[str, dict[Any, Handler | BatchHandler]] = {
    topics.REGIONAL_ACTIVITIES: {
        ActivityRecordedByRegion: activities_recorded,
        ActivityRecordedByRegionV2: activities_recorded,
    },
    topics.REGIONAL_ATTENDANCE: {
        AttendanceRecordedByRegion: attendances_recorded,
        AttendanceRecordedByRegionV2: attendances_recorded,
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
