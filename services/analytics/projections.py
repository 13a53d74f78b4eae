"""Event handlers that keep analytics' read models from the registry's and the events service's
events, and the audit trail every service records; each runs inside the consumer's transaction.
Nothing here reads another service's database.

Every handler is a batch handler: it takes a run of events of one type, reads what it needs in one
query, and writes with one bulk statement (an upsert keyed by the aggregate's id, or an update
with one row of parameters per aggregate).

Versions and order. A handler never relies on arrival order, not even of one aggregate's events:
an old dead letter re-driven after newer events, or a late one, must change nothing. Every event
of the registry and the events service carries its producer's outbox position as ``ce_sequence``
(one aggregate's events are recorded, and relayed, in that order), and every copied aggregate
(an organization, an educator, a membership, a plan item, an activity, an attendance, a feedback,
an assessment result, a training, a deficit) keeps the sequence of the newest event applied to it:
an event with a lower one changes none of its state (:func:`_newest` within a run,
:func:`_if_newer` in SQL, both through :func:`_upsert`). What only accumulates is merged from any
event: the earliest day held, archived or done, an end that is never undone. Events without a
sequence (sent before there were any) count as older than every sequenced one and, among
themselves, apply in arrival order. So replaying the topics from their earliest offsets rebuilds
exactly the same state, whatever the batches, and a handler's effect on a run is the effect of its
events applied one by one, oldest first — the newest state of an id wins, except where a fact
must not be undone by an earlier or repeated one —

- an organization keeps its first registration and is counted in its region only when its row is
  new (a repeated registration counts nothing); an update moves the count if the region or the
  kind changed;
- the first archiving, withdrawal and held day are kept; a membership that has ended stays
  ended; a plan's status only moves forward (draft → agreed → in progress → closed); a plan
  item's amendments apply in the plan's order (the last state wins), a withdrawn item stays
  withdrawn and a task keeps the first day it was marked done;
- a school's latest risk profile is replaced only by one assessed on the same day or later;
- creation events (network, plan, resource) are facts that happen once: a repeat changes nothing;
- what its service corrects carries a version of its own (a network's, a mobility record's, a
  resource request's): the highest version seen is kept, so a late or repeated older one changes
  nothing, and a mobility deleted as a mistake stays deleted (kept as such, never counted).

The inbox already makes a redelivered event (same ``ce_source`` and ``ce_id``) change nothing; the
rules above make the same fact sent again under a new id change nothing either.

A fact about an activity, plan, network, organization or resource that is not known yet (only
possible when its own earlier event is missing) is deferred with :meth:`Item.defer`: the consumer
retries it, and never applies it half.

Days are taken in UTC: the events service publishes its times in UTC and keeps no time zone.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from setka_contracts import sequence_of, topics
from setka_contracts.audit import AuditRecorded
from setka_contracts.events import (
    ActivityAnnounced,
    ActivityCancelled,
    ActivityHeld,
    ActivityPlanned,
    ActivityPostponed,
    ActivityReported,
    ActivityStatus,
    ActivityUpdatedByRegion,
    AssessmentResultRecorded,
    AttendanceRecorded,
    DeficitRecorded,
    FeedbackGiven,
    MobilityCorrected,
    MobilityDeleted,
    MobilityRecorded,
    PlanAgreed,
    PlanAmended,
    PlanClosed,
    PlanDrafted,
    PlanItemAdded,
    PlanItemDone,
    PlanStarted,
    PlanStatus,
    TrainingRecorded,
)
from setka_contracts.registry import (
    CentreDesignated,
    EducatorErased,
    EducatorRegistered,
    EducatorRegisteredV1,
    EducatorUpdated,
    EducatorUpdatedV1,
    MemberJoined,
    MemberLeft,
    MemberRole,
    NetworkClosed,
    NetworkCreated,
    NetworkUpdated,
    OrganizationArchived,
    OrganizationKind,
    OrganizationRegistered,
    OrganizationStatusChanged,
    OrganizationUpdated,
    ResourceOffered,
    ResourceUsed,
    ResourceWithdrawn,
    RiskProfileAssessed,
    StatusChange,
)
from setka_runtime import erasure
from setka_runtime.consumer import BatchHandler, Item, batch, one_at_a_time
from setka_runtime.moments import utc, utc_day
from setka_runtime.sql import dialect_insert, one_of
from sqlalchemy import (
    BigInteger,
    Date,
    DateTime,
    Table,
    bindparam,
    case,
    delete,
    func,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from .models import (
    Activity,
    AnalyticsModel,
    AssessmentResult,
    Attendance,
    AuditEntry,
    Deficit,
    Educator,
    Employment,
    Feedback,
    Membership,
    Mobility,
    Network,
    Organization,
    OrganizationStatus,
    Plan,
    PlanItem,
    Region,
    RegionSummary,
    Resource,
    ResourceUse,
    RiskProfile,
    Training,
)

LOWEST_MARK = "2"
"""The lowest mark of the Russian five-mark scale («двойка»): its share is the share failing."""

TOOK_PLACE = (ActivityStatus.held, ActivityStatus.reported)
PLAN_STAGES = (PlanStatus.draft, PlanStatus.agreed, PlanStatus.in_progress, PlanStatus.closed)


# -- helpers -----------------------------------------------------------------------------------------


def _table(model: type[AnalyticsModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined, no-any-return]


def _last_by(items: Iterable[Item], key: Callable[[Any], Hashable]) -> dict[Any, Item]:
    """The last item of each key, keys in order of first appearance: a run's later state wins."""
    last: dict[Any, Item] = {}
    for item in items:
        last[key(item.data)] = item
    return last


def _first_by(items: Iterable[Item], key: Callable[[Any], Hashable]) -> dict[Any, Item]:
    first: dict[Any, Item] = {}
    for item in items:
        first.setdefault(key(item.data), item)
    return first


def _later(session: AsyncSession, kept: Any, given: Any) -> Any:
    """The later of two timestamps in SQL (``greatest`` on PostgreSQL, two-argument ``max`` on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return func.greatest(kept, given)
    return func.max(kept, given)


def _earlier(session: AsyncSession, kept: Any, given: Any) -> Any:
    """The earlier of two days or moments in SQL, either of which may be null (then the other)."""
    least = func.least if session.get_bind().dialect.name == "postgresql" else func.min
    return least(func.coalesce(kept, given), func.coalesce(given, kept))


# -- versions: the one rule every copied aggregate follows ---------------------------------------------


def _sequence(item: Item) -> int:
    """The item's version: its producer's outbox position (``ce_sequence``), 0 if it has none."""
    return sequence_of(item.event)


def _by_sequence(items: Iterable[Item]) -> list[Item]:
    """``items`` oldest first (a stable sort: events without a sequence keep their order)."""
    return sorted(items, key=_sequence)


def _newest(items: Iterable[Item], key: Callable[[Any], Hashable]) -> dict[Any, Item]:
    """The newest item of each key (the highest sequence; the last of equal ones), keys in order
    of first appearance: what applying the run one event at a time, oldest first, leaves."""
    newest: dict[Any, Item] = {}
    for item in items:
        kept = newest.get(key(item.data))
        if kept is None or _sequence(item) >= _sequence(kept):
            newest[key(item.data)] = item
    return newest


def _if_newer(
    table: Table, incoming: Any, values: Mapping[str, Any], *, by: str = "sequence"
) -> dict[str, Any]:
    """SET clauses of a versioned row: each of ``values`` is taken only when the event's sequence
    (``incoming``) is not older than the row's sequence column ``by``, which keeps the higher. So
    an older event, whenever it comes (late, or re-driven from the dead letters), overwrites
    nothing. A part of a row that events other than its whole state set (an activity's status by
    its transitions) has a sequence column of its own, so every part ends at its newest value
    whatever the order."""
    newer = table.c[by] <= incoming
    return {name: case((newer, value), else_=table.c[name]) for name, value in values.items()} | {
        by: case((newer, incoming), else_=table.c[by])
    }


async def _upsert(
    session: AsyncSession,
    model: type[AnalyticsModel],
    rows: list[dict[str, Any]],
    *,
    index: tuple[str, ...] = ("id",),
    changes: Callable[[Any, Table], dict[str, Any]] | None = None,
    parts: Mapping[str, tuple[str, ...]] | None = None,
    merges: Callable[[Any, Table], dict[str, Any]] | None = None,
    where: Callable[[Any, Table], Any] | None = None,
    keep_existing: bool = False,
    returning: bool = False,
) -> set[Any]:
    """Insert ``rows`` (one per key) with one statement; a row whose key exists gets ``changes``
    (every given column by default), only ``where`` that holds, or nothing with ``keep_existing``.

    A versioned table's rows carry their event's ``sequence``: the changes apply only over an older
    row (:func:`_if_newer`); the columns ``parts`` names go by their own sequence column instead
    (``{"status_sequence": ("status",)}``); ``merges`` (facts that only accumulate: the first day,
    an end never undone) apply from any event. With ``returning`` (a one-column index), return
    the keys written: inserted, or changed by a newer event."""
    if not rows:
        return set()
    table = _table(model)
    statement = dialect_insert(session, table)
    versioned = "sequence" in table.c
    if keep_existing:
        statement = statement.on_conflict_do_nothing(index_elements=list(index))
    else:
        excluded = statement.excluded
        own = {"sequence", *(parts or {})}
        sets = (
            changes(excluded, table)
            if changes
            else {name: excluded[name] for name in rows[0] if name not in (*index, *own)}
        )
        condition = where(excluded, table) if where else None
        if versioned and not merges and not parts:
            sets["sequence"] = excluded.sequence
            newer = table.c.sequence <= excluded.sequence
            condition = newer if condition is None else newer & condition
        elif versioned:
            apart = {name for names in (parts or {}).values() for name in names}
            gated = _if_newer(table, excluded.sequence, {k: v for k, v in sets.items() if k not in apart})
            for by, names in (parts or {}).items():
                gated |= _if_newer(table, excluded[by], {k: sets[k] for k in names}, by=by)
            sets = gated
        if merges is not None:
            sets |= merges(excluded, table)
        statement = statement.on_conflict_do_update(index_elements=list(index), set_=sets, where=condition)
    if not returning:
        await session.execute(statement, rows)
        return set()
    written = await session.execute(statement.returning(table.c[index[0]]), rows)
    return set(written.scalars())


async def _known(session: AsyncSession, column: Any, ids: Iterable[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``ids`` have a row (``column`` is the table's id column)."""
    wanted = list(dict.fromkeys(ids))
    if not wanted:
        return set()
    return set(await session.scalars(select(column).where(one_of(session, column, wanted))))


def _defer_unknown(
    items: list[Item], known: set[uuid.UUID], key: Callable[[Any], uuid.UUID], what: str
) -> list[Item]:
    """The items whose ``what`` is known; the others are deferred (they leave no effect)."""
    ready = []
    for item in items:
        if key(item.data) in known:
            ready.append(item)
        else:
            item.defer(f"{what} {key(item.data)} is not known to analytics yet")
    return ready


# -- organizations and their regions -----------------------------------------------------------------


def _organization_row(data: OrganizationRegistered | OrganizationUpdated) -> dict[str, Any]:
    return {
        "id": data.organization_id,
        "region_code": data.region_code,
        "kind": data.kind.value,
        "short_name": data.short_name,
        "municipality": data.municipality,
        "municipality_id": data.municipality_id,
    }


async def _name_regions(session: AsyncSession, items: list[Item]) -> None:
    """Keep each region's name as the newest of the organizations' events names it (the registry's
    reference data); events from before names travelled name none and change nothing."""
    names = {
        item.data.region_code: item.data.region_name
        for item in _by_sequence(items)
        if getattr(item.data, "region_name", None)
    }
    await _upsert(
        session,
        Region,
        [{"code": code, "name": name} for code, name in sorted(names.items())],
        index=("code",),
    )


async def _count_in_regions(
    session: AsyncSession,
    organizations: Counter[str],
    schools: Counter[str],
    changed_at: Mapping[str, datetime],
) -> None:
    """Add the counts (negative ones too, or none when moves cancel out) to the figures of every
    region changed, and note when it changed: one upsert for all of them."""
    regions = sorted(changed_at)
    if not regions:
        return
    await _upsert(
        session,
        RegionSummary,
        [
            {
                "region_code": region,
                "organizations": organizations[region],
                "schools": schools[region],
                "updated_at": changed_at[region],
            }
            for region in regions
        ],
        index=("region_code",),
        changes=lambda excluded, table: {
            "organizations": table.c.organizations + excluded.organizations,
            "schools": table.c.schools + excluded.schools,
            "updated_at": _later(session, table.c.updated_at, excluded.updated_at),
        },
    )


def _note(
    counts: tuple[Counter[str], Counter[str]],
    changed_at: dict[str, datetime],
    region: str,
    kind: str,
    at: datetime,
    *,
    by: int = 1,
) -> None:
    organizations, schools = counts
    organizations[region] += by
    schools[region] += by if kind == OrganizationKind.school.value else 0
    changed_at[region] = max(at, changed_at.get(region, at))


_ORGANIZATIONS_NOTED = text(
    """
    INSERT INTO organization (
        id, region_code, kind, short_name, municipality, municipality_id, registered_at, sequence
    )
    SELECT * FROM unnest(
        CAST(:id AS uuid[]), CAST(:region_code AS varchar[]), CAST(:kind AS varchar[]),
        CAST(:short_name AS varchar[]), CAST(:municipality AS varchar[]),
        CAST(:municipality_id AS uuid[]), CAST(:registered_at AS timestamptz[]), CAST(:sequence AS bigint[])
    )
    ON CONFLICT (id) DO NOTHING
    RETURNING id
    """
)


@batch
async def organizations_registered(session: AsyncSession, items: list[Item]) -> None:
    """Note each organization, counted in its region once: when its row is new. An organization
    already noted keeps its state (a registration is its first event: a row there is newer, or
    the same); only its registration day, the earlier one, is taken."""
    first = _first_by(_by_sequence(items), lambda data: data.organization_id)
    if not first:
        return
    table = _table(Organization)
    rows = [
        _organization_row(item.data) | {"registered_at": item.data.registered_at, "sequence": _sequence(item)}
        for item in first.values()
    ]
    if session.get_bind().dialect.name == "postgresql":  # a column an array: one bind each
        given = {name: [row[name] for row in rows] for name in rows[0]}
        inserted = set(await session.scalars(_ORGANIZATIONS_NOTED, given))
    else:
        statement = dialect_insert(session, table).on_conflict_do_nothing(index_elements=["id"])
        inserted = set((await session.execute(statement.returning(table.c.id), rows)).scalars())
    await _name_regions(session, items)
    counts: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    changed_at: dict[str, datetime] = {}
    for ident in inserted:
        item = first[ident]
        _note(counts, changed_at, item.data.region_code, item.data.kind.value, item.event.time)
    await _count_in_regions(session, *counts, changed_at)
    noted = [{"b_id": row["id"], "b_at": row["registered_at"]} for row in rows if row["id"] not in inserted]
    if noted:
        at = bindparam("b_at", type_=DateTime(timezone=True))
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(registered_at=_earlier(session, table.c.registered_at, at)),
            noted,
        )


@batch
async def organizations_updated(session: AsyncSession, items: list[Item]) -> None:
    """The organization's details are its whole new state, unless a newer one is kept; a move to
    another region or kind moves its count. One analytics has not heard of is noted (and counted)
    as registered when first updated."""
    table = _table(Organization)
    wanted = list(dict.fromkeys(item.data.organization_id for item in items))
    held = {
        row.id: (row.region_code, row.kind, row.sequence)
        for row in await session.execute(
            select(table.c.id, table.c.region_code, table.c.kind, table.c.sequence).where(
                one_of(session, table.c.id, wanted)
            )
        )
    }
    counts: tuple[Counter[str], Counter[str]] = (Counter(), Counter())
    changed_at: dict[str, datetime] = {}
    for item in _by_sequence(items):  # every move, oldest first, as one update at a time would note it
        data: OrganizationUpdated = item.data
        now = (data.region_code, data.kind.value)
        before = held.get(data.organization_id)
        if before is not None and _sequence(item) < before[2]:
            continue  # older than what is kept: it moves nothing
        held[data.organization_id] = (*now, max(_sequence(item), before[2] if before else 0))
        if before is not None and before[:2] == now:
            continue
        if before is not None:
            _note(counts, changed_at, *before[:2], item.event.time, by=-1)
        _note(counts, changed_at, *now, item.event.time)
    earliest: dict[uuid.UUID, datetime] = {}
    for item in items:
        ident, at = item.data.organization_id, item.data.updated_at
        earliest[ident] = min(at, earliest.get(ident, at))
    await _upsert(
        session,
        Organization,
        [
            _organization_row(item.data) | {"registered_at": earliest[ident], "sequence": _sequence(item)}
            for ident, item in _newest(items, lambda data: data.organization_id).items()
        ],
        changes=lambda excluded, _: {
            name: excluded[name]
            for name in ("region_code", "kind", "short_name", "municipality", "municipality_id")
        },
        merges=lambda excluded, table: {
            "registered_at": _earlier(session, table.c.registered_at, excluded.registered_at)
        },
    )
    await _count_in_regions(session, *counts, changed_at)
    await _name_regions(session, items)


@batch
async def organizations_archived(session: AsyncSession, items: list[Item]) -> None:
    """An archived organization keeps its row (and its count): the analysis of a past period
    still includes it. The first archiving is kept: no update, late or not, undoes it (an update
    changes the details, never ``archived_at``)."""
    table = _table(Organization)
    known = await _known(session, table.c.id, (item.data.organization_id for item in items))
    ready = _defer_unknown(items, known, lambda data: data.organization_id, "organization")
    if not ready:
        return
    archived: dict[uuid.UUID, datetime] = {}
    for item in ready:
        ident, at = item.data.organization_id, item.data.archived_at
        archived[ident] = min(at, archived.get(ident, at))
    at = bindparam("b_at", type_=DateTime(timezone=True))
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(archived_at=_earlier(session, table.c.archived_at, at)),
        [{"b_id": ident, "b_at": when} for ident, when in archived.items()],
    )


Period = tuple[uuid.UUID, str, date]
"""A status period's key: (organization, status, entered on)."""


def apply_status_changes(periods: dict[Period, date | None], changes: list[Item]) -> set[Period]:
    """Apply status changes in order to the known periods (key → ``left_on``); return the keys
    changed. Entering opens a period (once); leaving ends the open period that began before; a
    change that repeats what is known changes nothing; leaving with no period to end is deferred."""
    changed: set[Period] = set()
    for item in changes:
        data: OrganizationStatusChanged = item.data
        organization, status, on = data.organization_id, data.status.value, data.effective_on
        if data.change == StatusChange.entered:
            if (organization, status, on) not in periods:
                periods[(organization, status, on)] = None
                changed.add((organization, status, on))
            continue
        mine = sorted(key for key in periods if key[:2] == (organization, status) and key[2] < on)
        if any(periods[key] == on for key in mine):
            continue  # this period's end is known already
        open_ones = [key for key in mine if periods[key] is None]
        if not open_ones:
            item.defer(f"organization {organization} has no open {status} period before {on} yet")
            continue
        periods[open_ones[-1]] = on
        changed.add(open_ones[-1])
    return changed


@batch
async def statuses_changed(session: AsyncSession, items: list[Item]) -> None:
    """Dated statuses (ШНОР, ШФНСУ, stable results) as periods: entered on a day, left on a day."""
    table = _table(OrganizationStatus)
    organizations = list(dict.fromkeys(item.data.organization_id for item in items))
    rows = await session.execute(select(table).where(one_of(session, table.c.organization_id, organizations)))
    periods: dict[Period, date | None] = {
        (row.organization_id, row.status, row.entered_on): row.left_on for row in rows
    }
    changed = apply_status_changes(periods, items)
    await _upsert(
        session,
        OrganizationStatus,
        [
            {"organization_id": key[0], "status": key[1], "entered_on": key[2], "left_on": periods[key]}
            for key in sorted(changed)
        ],
        index=("organization_id", "status", "entered_on"),
    )


@batch
async def risk_profiles_assessed(session: AsyncSession, items: list[Item]) -> None:
    """Each school's latest risk profile: one assessed earlier than the kept one changes nothing."""
    latest: dict[uuid.UUID, RiskProfileAssessed] = {}
    for item in items:
        data: RiskProfileAssessed = item.data
        kept = latest.get(data.organization_id)
        if kept is None or kept.assessed_on <= data.assessed_on:
            latest[data.organization_id] = data
    await _upsert(
        session,
        RiskProfile,
        [
            {
                "organization_id": data.organization_id,
                "assessed_on": data.assessed_on,
                "factors": {factor.value: level.value for factor, level in data.factors.items()},
            }
            for data in latest.values()
        ],
        index=("organization_id",),
        where=lambda excluded, table: table.c.assessed_on <= excluded.assessed_on,
    )


# -- educators (by id: no names) ---------------------------------------------------------------------


@batch
async def educators_changed(session: AsyncSession, items: list[Item]) -> None:
    """An educator event is the educator's whole state: category, subjects and every employment
    (which replace the ones kept), unless a newer state is kept. Names are never read."""
    newest = _newest(items, lambda data: data.educator_id)
    if not newest:
        return
    written = await _upsert(
        session,
        Educator,
        [
            {
                "id": ident,
                "qualification_category": item.data.qualification_category.value,
                "subjects": list(item.data.subjects),
                "sequence": _sequence(item),
            }
            for ident, item in newest.items()
        ],
        returning=True,
    )
    last = {ident: item.data for ident, item in newest.items() if ident in written}
    if not last:
        return
    employments = _table(Employment)
    await session.execute(delete(employments).where(one_of(session, employments.c.educator_id, list(last))))
    await _upsert(
        session,
        Employment,
        [
            {
                "id": employment.employment_id,
                "educator_id": ident,
                "organization_id": employment.organization_id,
                "started_on": employment.started_on,
                "ended_on": employment.ended_on,
            }
            for ident, data in last.items()
            for employment in {e.employment_id: e for e in data.employments}.values()
        ],
    )


# -- networks, memberships, resources ----------------------------------------------------------------


@batch
async def networks_created(session: AsyncSession, items: list[Item]) -> None:
    await _upsert(
        session,
        Network,
        [
            {
                "id": data.network_id,
                "name": data.name,
                "level": data.level.value,
                "region_code": data.region_code,
                "municipality_id": data.municipality_id,
                "governing_body_id": data.governing_body_id,
                "started_on": data.started_on,
                "ended_on": data.ended_on,
                "version": data.version,
            }
            for data in (item.data for item in _first_by(items, lambda data: data.network_id).values())
        ],
        keep_existing=True,
    )


def _latest(items: Iterable[Item], key: Callable[[Any], Hashable]) -> dict[Any, Item]:
    """The item of the highest version of each key (the last of equal ones), keys in order of
    first appearance."""
    latest: dict[Any, Item] = {}
    for item in items:
        kept = latest.get(key(item.data))
        if kept is None or item.data.version >= kept.data.version:
            latest[key(item.data)] = item
    return latest


@batch
async def networks_updated(session: AsyncSession, items: list[Item]) -> None:
    """A corrected network (renamed, moved, another governing body) replaces the copy of an older
    version; an update of a version already kept, or older, changes nothing."""
    networks = _table(Network)
    known = await _known(session, networks.c.id, (item.data.network_id for item in items))
    ready = _defer_unknown(items, known, lambda data: data.network_id, "network")
    rows = [
        {
            "b_id": data.network_id,
            "b_version": data.version,
            "b_name": data.name,
            "b_level": data.level.value,
            "b_municipality_id": data.municipality_id,
            "b_governing_body_id": data.governing_body_id,
            "b_ended_on": data.ended_on,
        }
        for data in (item.data for item in _latest(ready, lambda data: data.network_id).values())
    ]
    if not rows:
        return
    await session.execute(
        update(networks)
        .where(networks.c.id == bindparam("b_id"), networks.c.version < bindparam("b_version"))
        .values(
            version=bindparam("b_version"),
            name=bindparam("b_name"),
            level=bindparam("b_level"),
            municipality_id=bindparam("b_municipality_id"),
            governing_body_id=bindparam("b_governing_body_id"),
            ended_on=bindparam("b_ended_on"),
        ),
        rows,
    )


@batch
async def networks_closed(session: AsyncSession, items: list[Item]) -> None:
    """The network ends on the day it was closed (which replaces an end planned when it was
    created); memberships still open end with it. The registry closes a network once."""
    networks = _table(Network)
    known = await _known(session, networks.c.id, (item.data.network_id for item in items))
    ready = _defer_unknown(items, known, lambda data: data.network_id, "network")
    ended = [
        {"b_id": ident, "b_on": item.data.ended_on, "b_version": item.data.version or 0}
        for ident, item in _last_by(ready, lambda data: data.network_id).items()
    ]
    if not ended:
        return
    await session.execute(
        update(networks)
        .where(networks.c.id == bindparam("b_id"))
        .values(
            ended_on=bindparam("b_on"),
            version=case(
                (networks.c.version < bindparam("b_version"), bindparam("b_version")),
                else_=networks.c.version,
            ),
        ),
        ended,
    )
    memberships = _table(Membership)
    await session.execute(
        update(memberships)
        .where(memberships.c.network_id == bindparam("b_id"), memberships.c.left_on.is_(None))
        .values(left_on=bindparam("b_on")),
        ended,
    )


ROLE = {"role_sequence": ("role",)}
"""A membership's role goes by a sequence of its own: the centre's designation sets only it."""


def _left_on(excluded: Any, table: Table) -> dict[str, Any]:
    """A membership's end: the newest event's end when it gives one; an end is never undone."""
    newer = table.c.sequence <= excluded.sequence
    return {
        "left_on": case(
            (newer, func.coalesce(excluded.left_on, table.c.left_on)),
            else_=func.coalesce(table.c.left_on, excluded.left_on),
        )
    }


@batch
async def memberships_changed(session: AsyncSession, items: list[Item]) -> None:
    """A membership by id: its role and dates as the newest event sent them; once it has ended
    it stays ended."""
    rows: dict[uuid.UUID, dict[str, Any]] = {}
    for item in _by_sequence(items):
        data: MemberJoined | MemberLeft = item.data
        left_on = data.left_on if isinstance(data, MemberLeft) else None
        kept = rows.get(data.membership_id)
        rows[data.membership_id] = {
            "id": data.membership_id,
            "network_id": data.network_id,
            "organization_id": data.organization_id,
            "role": data.role.value,
            "joined_on": data.joined_on,
            "left_on": left_on or (kept["left_on"] if kept else None),
            "sequence": _sequence(item),
            "role_sequence": _sequence(item),
        }
    await _upsert(
        session,
        Membership,
        list(rows.values()),
        changes=lambda excluded, _: {
            name: excluded[name] for name in ("network_id", "organization_id", "role", "joined_on")
        },
        parts=ROLE,
        merges=_left_on,
    )


@batch
async def centres_designated(session: AsyncSession, items: list[Item]) -> None:
    """The membership becomes the network's centre (the registry sends it just after the joining).
    Only its role is this event's: a membership not known yet is noted with the designation's day
    as its joining, which its own joining replaces whenever it comes."""
    await _upsert(
        session,
        Membership,
        [
            {
                "id": data.membership_id,
                "network_id": data.network_id,
                "organization_id": data.organization_id,
                "role": MemberRole.centre.value,
                "joined_on": data.designated_on,
                "left_on": None,
                "sequence": 0,
                "role_sequence": _sequence(item),
            }
            for item, data in (
                (item, item.data) for item in _newest(items, lambda data: data.membership_id).values()
            )
        ],
        changes=lambda excluded, _: {"role": excluded.role},
        parts=ROLE,
    )


@batch
async def resources_offered(session: AsyncSession, items: list[Item]) -> None:
    await _upsert(
        session,
        Resource,
        [
            {
                "id": data.resource_id,
                "owner_id": data.owner_id,
                "kind": data.kind.value,
                "subjects": list(data.subjects),
                "available_from": data.available_from,
                "available_to": data.available_to,
            }
            for data in (item.data for item in _first_by(items, lambda data: data.resource_id).values())
        ],
        keep_existing=True,
    )


@batch
async def resources_withdrawn(session: AsyncSession, items: list[Item]) -> None:
    table = _table(Resource)
    known = await _known(session, table.c.id, (item.data.resource_id for item in items))
    ready = _defer_unknown(items, known, lambda data: data.resource_id, "resource")
    first = _first_by(ready, lambda data: data.resource_id)
    if not first:
        return
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(
            withdrawn_at=func.coalesce(table.c.withdrawn_at, bindparam("b_at", type_=DateTime(timezone=True)))
        ),
        [{"b_id": ident, "b_at": item.data.withdrawn_at} for ident, item in first.items()],
    )


# -- plans -------------------------------------------------------------------------------------------


@batch
async def plans_drafted(session: AsyncSession, items: list[Item]) -> None:
    await _upsert(
        session,
        Plan,
        [
            {
                "id": data.plan_id,
                "network_id": data.network_id,
                "year": data.year,
                "status": PlanStatus.draft.value,
                "period": data.period.value,
            }
            for data in (item.data for item in _first_by(items, lambda data: data.plan_id).values())
        ],
        keep_existing=True,
    )


@batch
async def plan_items_added(session: AsyncSession, items: list[Item]) -> None:
    """An item of a plan, with the plan's network copied in."""
    plans = _table(Plan)
    wanted = list(dict.fromkeys(item.data.plan_id for item in items))
    network_of = dict(
        (
            await session.execute(
                select(plans.c.id, plans.c.network_id).where(one_of(session, plans.c.id, wanted))
            )
        ).all()
    )
    ready = _defer_unknown(items, set(network_of), lambda data: data.plan_id, "plan")
    await _upsert(
        session,
        PlanItem,
        [
            {
                "id": data.item_id,
                "plan_id": data.plan_id,
                "network_id": network_of[data.plan_id],
                "title": data.title[:500],
                "due_on": data.due_on,
                "responsible_organization_id": data.responsible_organization_id,
                "kind": data.kind.value,
                "sequence": _sequence(item),
            }
            for item, data in (
                (item, item.data) for item in _newest(ready, lambda data: data.item_id).values()
            )
        ],
    )


@batch
async def plans_amended(session: AsyncSession, items: list[Item]) -> None:
    """Each changed item takes its newest state (an amendment carries an item's whole state), unless
    a newer one is kept (an item not known yet is noted in it); a withdrawn item stays withdrawn."""
    plans = _table(Plan)
    wanted = list(dict.fromkeys(item.data.plan_id for item in items))
    network_of = dict(
        (
            await session.execute(
                select(plans.c.id, plans.c.network_id).where(one_of(session, plans.c.id, wanted))
            )
        ).all()
    )
    ready = _defer_unknown(items, set(network_of), lambda data: data.plan_id, "plan")
    states: dict[uuid.UUID, dict[str, Any]] = {}
    withdrawn: list[uuid.UUID] = []
    for item in _by_sequence(ready):
        data: PlanAmended = item.data
        for state in data.changed_items:
            states[state.item_id] = {
                "id": state.item_id,
                "plan_id": data.plan_id,
                "network_id": network_of[data.plan_id],
                "title": state.title[:500],
                "due_on": state.due_on,
                "responsible_organization_id": state.responsible_organization_id,
                "kind": state.kind.value,
                "sequence": _sequence(item),
            }
        withdrawn.extend(data.withdrawn_item_ids)
    await _upsert(
        session,
        PlanItem,
        list(states.values()),
        changes=lambda excluded, _: {
            name: excluded[name] for name in ("title", "due_on", "responsible_organization_id", "kind")
        },
    )
    table = _table(PlanItem)
    if withdrawn:
        ids = list(dict.fromkeys(withdrawn))
        await session.execute(update(table).where(one_of(session, table.c.id, ids)).values(withdrawn=True))


@batch
async def plan_items_done(session: AsyncSession, items: list[Item]) -> None:
    """A task keeps the first day it was marked done (the earliest, in whatever order they come)."""
    table = _table(PlanItem)
    known = await _known(session, table.c.id, (item.data.item_id for item in items))
    ready = _defer_unknown(items, known, lambda data: data.item_id, "plan item")
    days: dict[uuid.UUID, date] = {}
    for item in ready:
        day = utc_day(item.data.done_at)
        days[item.data.item_id] = min(day, days.get(item.data.item_id, day))
    if not days:
        return
    await session.execute(
        update(table)
        .where(table.c.id == bindparam("b_id"))
        .values(done_on=_earlier(session, table.c.done_on, bindparam("b_day", type_=Date()))),
        [{"b_id": ident, "b_day": day} for ident, day in days.items()],
    )


def plan_moved_to(status: PlanStatus) -> BatchHandler:
    """The handler of the transition to ``status``: a plan only moves forward, so a late or
    repeated transition to an earlier stage changes nothing."""
    earlier = [stage.value for stage in PLAN_STAGES[: PLAN_STAGES.index(status)]]

    @batch
    async def moved(session: AsyncSession, items: list[Item]) -> None:
        table = _table(Plan)
        known = await _known(session, table.c.id, (item.data.plan_id for item in items))
        ready = _defer_unknown(items, known, lambda data: data.plan_id, "plan")
        ids = list(dict.fromkeys(item.data.plan_id for item in ready))
        if ids:
            await session.execute(
                update(table)
                .where(one_of(session, table.c.id, ids), table.c.status.in_(earlier))
                .values(status=status.value)
            )

    moved.__name__ = moved.__qualname__ = f"plans_{status.value}"
    return moved


# -- activities and what happened at them ------------------------------------------------------------


_ACTIVITY_INTO_ATTENDANCE = text(
    """
    UPDATE attendance SET
        activity_day = CAST(activity.starts_at AT TIME ZONE 'UTC' AS date),
        host_organization_id = activity.host_organization_id,
        network_id = activity.network_id
    FROM activity
    WHERE activity.id = ANY(CAST(:ids AS uuid[])) AND attendance.activity_id = activity.id
    """
)
"""What :func:`_copy_activity_into_attendance` does on PostgreSQL: one statement, no round trip
to read the activities first."""


async def _copy_activity_into_attendance(session: AsyncSession, activity_ids: list[uuid.UUID]) -> None:
    """Attendance carries its activity's day, host and network: refresh them after the activity
    changed (an activity planned for the first time has none, and this changes nothing)."""
    if not activity_ids:
        return
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_ACTIVITY_INTO_ATTENDANCE, {"ids": activity_ids})
        return
    attendance, activities = _table(Attendance), _table(Activity)
    rows = (
        await session.execute(
            select(
                activities.c.id,
                activities.c.starts_at,
                activities.c.host_organization_id,
                activities.c.network_id,
            ).where(one_of(session, activities.c.id, activity_ids))
        )
    ).all()
    await session.execute(
        update(attendance)
        .where(attendance.c.activity_id == bindparam("b_id"))
        .values(
            activity_day=bindparam("b_day", type_=Date()),
            host_organization_id=bindparam("b_host"),
            network_id=bindparam("b_network"),
        ),
        [
            {
                "b_id": row.id,
                "b_day": utc_day(row.starts_at),
                "b_host": row.host_organization_id,
                "b_network": row.network_id,
            }
            for row in rows
        ],
    )


ACTIVITY_PARTS = {"status_sequence": ("status",), "dates_sequence": ("starts_at", "ends_at")}
"""An activity's status and dates go by sequences of their own: its transitions set the status,
a postponement the dates, without the rest of its state."""


@batch
async def activities_planned(session: AsyncSession, items: list[Item]) -> None:
    """An activity's whole state (planned by the events service, or recorded and updated by a
    regional system), unless a newer one is kept. One recorded as already held is held on the
    day it started (the earliest such day of its events)."""
    newest = _newest(items, lambda data: data.activity_id)
    held_on: dict[uuid.UUID, date] = {}
    for item in items:
        data: ActivityPlanned = item.data
        if data.status in TOOK_PLACE:
            day = utc_day(data.starts_at)
            held_on[data.activity_id] = min(day, held_on.get(data.activity_id, day))
    await _upsert(
        session,
        Activity,
        [
            {
                "id": ident,
                "title": data.title[:500],
                "network_id": data.network_id,
                "host_organization_id": data.host_organization_id,
                "plan_item_id": data.plan_item_id,
                "activity_type": data.activity_type.value,
                "processes": [process.value for process in data.processes],
                "format": data.format.value,
                "starts_at": data.starts_at,
                "ends_at": data.ends_at,
                "status": data.status.value,
                "held_on": held_on.get(ident),
                "sequence": _sequence(item),
                "status_sequence": _sequence(item),
                "dates_sequence": _sequence(item),
            }
            for ident, item, data in ((ident, item, item.data) for ident, item in newest.items())
        ],
        changes=lambda excluded, _: {
            name: excluded[name]
            for name in (
                "title",
                "network_id",
                "host_organization_id",
                "plan_item_id",
                "activity_type",
                "processes",
                "format",
                "starts_at",
                "ends_at",
                "status",
            )
        },
        parts=ACTIVITY_PARTS,
        merges=lambda excluded, table: {"held_on": _earlier(session, table.c.held_on, excluded.held_on)},
    )
    await _copy_activity_into_attendance(session, list(newest))


def activity_became(status: ActivityStatus) -> BatchHandler:
    """The handler of an activity's transition to ``status``, applied unless a newer state of the
    activity is kept: held or reported keeps the first (earliest) day it was so, from any event;
    postponed takes the new dates when they are given."""

    @batch
    async def became(session: AsyncSession, items: list[Item]) -> None:
        table = _table(Activity)
        known = await _known(session, table.c.id, (item.data.activity_id for item in items))
        ready = _defer_unknown(items, known, lambda data: data.activity_id, "activity")
        changes: dict[uuid.UUID, dict[str, Any]] = {}
        for item in _by_sequence(ready):
            data = item.data
            change = changes.setdefault(
                data.activity_id,
                {"b_id": data.activity_id, "b_held_on": None, "b_starts_at": None, "b_ends_at": None},
            )
            change["b_status_sequence"] = _sequence(item)
            change.setdefault("b_dates_sequence", -1)  # below any sequence: the dates stay
            if status in TOOK_PLACE:
                day = utc_day(data.changed_at)
                change["b_held_on"] = min(day, change["b_held_on"] or day)
            if (
                isinstance(data, ActivityPostponed)
                and data.starts_at is not None
                and data.ends_at is not None
            ):
                change["b_starts_at"], change["b_ends_at"] = data.starts_at, data.ends_at
                change["b_dates_sequence"] = _sequence(item)
        if not changes:
            return
        moment = DateTime(timezone=True)
        state = _if_newer(
            table,
            bindparam("b_status_sequence", type_=BigInteger()),
            {"status": status.value},
            by="status_sequence",
        ) | _if_newer(
            table,
            bindparam("b_dates_sequence", type_=BigInteger()),
            {
                "starts_at": func.coalesce(bindparam("b_starts_at", type_=moment), table.c.starts_at),
                "ends_at": func.coalesce(bindparam("b_ends_at", type_=moment), table.c.ends_at),
            },
            by="dates_sequence",
        )
        await session.execute(
            update(table)
            .where(table.c.id == bindparam("b_id"))
            .values(
                state | {"held_on": _earlier(session, table.c.held_on, bindparam("b_held_on", type_=Date()))}
            ),
            list(changes.values()),
        )
        moved = [ident for ident, change in changes.items() if change["b_starts_at"] is not None]
        await _copy_activity_into_attendance(session, moved)

    became.__name__ = became.__qualname__ = f"activities_{status.value}"
    return became


_ATTENDANCE_COPIED = text(
    """
    WITH given AS (
        SELECT * FROM unnest(
            CAST(:ids AS uuid[]), CAST(:activities AS uuid[]), CAST(:organizations AS uuid[]),
            CAST(:educators AS uuid[]), CAST(:hours AS float8[]), CAST(:sequences AS bigint[])
        ) WITH ORDINALITY AS g (id, activity_id, organization_id, educator_id, hours, sequence, place)
    ),
    known AS (
        SELECT id, starts_at, host_organization_id, network_id FROM activity
        WHERE id IN (SELECT activity_id FROM given)
    ),
    written AS (
        INSERT INTO attendance AS kept (
            id, activity_id, organization_id, educator_id, hours,
            activity_day, host_organization_id, network_id, sequence
        )
        SELECT DISTINCT ON (given.id)
            given.id, given.activity_id, given.organization_id, given.educator_id, given.hours,
            CAST(known.starts_at AT TIME ZONE 'UTC' AS date), known.host_organization_id,
            known.network_id, given.sequence
        FROM given JOIN known ON known.id = given.activity_id
        ORDER BY given.id, given.sequence DESC, given.place DESC
        ON CONFLICT (id) DO UPDATE SET
            activity_id = excluded.activity_id,
            organization_id = excluded.organization_id,
            educator_id = excluded.educator_id,
            hours = excluded.hours,
            activity_day = excluded.activity_day,
            host_organization_id = excluded.host_organization_id,
            network_id = excluded.network_id,
            sequence = excluded.sequence
        WHERE kept.sequence <= excluded.sequence
    )
    SELECT id FROM known
    """
)
"""What :func:`attendance_recorded` does on PostgreSQL in one round trip: the run's records as
arrays, the newest of each attendance among those whose activity is known (the highest
sequence, the last of equal ones), upserted with the activity's UTC day, host and network
unless a newer one is kept; returns the activities known, so that the others wait."""


@batch
async def attendance_recorded(session: AsyncSession, items: list[Item]) -> None:
    """Who took part, with the activity's day, host and network copied in. The activity comes
    first on the same partition (both are keyed by it); until it is known the attendance waits."""
    if session.get_bind().dialect.name == "postgresql":
        given = [item.data for item in items]
        known = await session.scalars(
            _ATTENDANCE_COPIED,
            {
                "ids": [data.attendance_id for data in given],
                "activities": [data.activity_id for data in given],
                "organizations": [data.organization_id for data in given],
                "educators": [data.educator_id for data in given],
                "hours": [data.hours for data in given],
                "sequences": [_sequence(item) for item in items],
            },
        )
        _defer_unknown(items, set(known), lambda data: data.activity_id, "activity")
        return
    activities = _table(Activity)
    wanted = list(dict.fromkeys(item.data.activity_id for item in items))
    found = {
        row.id: row
        for row in await session.execute(
            select(
                activities.c.id,
                activities.c.starts_at,
                activities.c.host_organization_id,
                activities.c.network_id,
            ).where(one_of(session, activities.c.id, wanted))
        )
    }
    ready = _defer_unknown(items, set(found), lambda data: data.activity_id, "activity")
    rows = []
    for item in _newest(ready, lambda data: data.attendance_id).values():
        data: AttendanceRecorded = item.data
        activity = found[data.activity_id]
        rows.append(
            {
                "id": data.attendance_id,
                "activity_id": data.activity_id,
                "organization_id": data.organization_id,
                "educator_id": data.educator_id,
                "hours": data.hours,
                "activity_day": utc_day(activity.starts_at),
                "host_organization_id": activity.host_organization_id,
                "network_id": activity.network_id,
                "sequence": _sequence(item),
            }
        )
    await _upsert(session, Attendance, rows)


def _facts(
    model: type[AnalyticsModel], key: Callable[[Any], uuid.UUID], row: Callable[[Any], dict[str, Any]]
) -> BatchHandler:
    """The handler of a fact kept by its id at its newest (a corrected fact replaces the kept one;
    an older one, late or re-driven, changes nothing)."""

    @batch
    async def recorded(session: AsyncSession, items: list[Item]) -> None:
        await _upsert(
            session,
            model,
            [row(item.data) | {"sequence": _sequence(item)} for item in _newest(items, key).values()],
        )

    recorded.__name__ = recorded.__qualname__ = f"{_table(model).name}_recorded"
    return recorded


feedback_given = _facts(
    Feedback,
    lambda data: data.feedback_id,
    lambda data: {
        "id": data.feedback_id,
        "activity_id": data.activity_id,
        "rating": data.rating,
        "organization_id": data.organization_id,
    },
)


@batch
async def mobility_changed(session: AsyncSession, items: list[Item]) -> None:
    """A mobility record at its version, recorded, corrected or deleted (a deletion keeps the row,
    marked, so it no longer counts): the highest version seen wins, so a correction replaces the
    figure and a late or repeated older version changes nothing (an equal one is a repeat)."""
    rows = [
        {
            "id": data.mobility_id,
            "kind": data.kind,
            "home_organization_id": data.home_organization_id,
            "host_organization_id": data.host_organization_id,
            "network_id": data.network_id,
            "programme": data.programme,
            "participants": data.participants,
            "starts_on": data.starts_on,
            "ends_on": data.ends_on,
            "hours": data.hours,
            "version": data.version,
            "deleted_at": utc(data.deleted_at) if isinstance(data, MobilityDeleted) else None,
        }
        for data in (item.data for item in _latest(items, lambda data: data.mobility_id).values())
    ]
    await _upsert(session, Mobility, rows, where=lambda excluded, table: table.c.version <= excluded.version)


def _newest_uses(items: list[Item]) -> list[Any]:
    """Each use of a run at its newest version (the first sent of equal ones), as applying them
    one by one would leave it."""
    newest: dict[uuid.UUID, Any] = {}
    for data in (item.data for item in items):
        kept = newest.get(data.use_id)
        if kept is None or data.version > kept.version:
            newest[data.use_id] = data
    return list(newest.values())


@batch
async def resources_used(session: AsyncSession, items: list[Item]) -> None:
    """Keep each use by its id; one sent again (under the same event id or another) changes
    nothing unless it carries a newer version of its request."""
    await _upsert(
        session,
        ResourceUse,
        [
            {
                "id": data.use_id,
                "request_id": data.request_id,
                "version": data.version,
                "resource_id": data.resource_id,
                "resource_kind": data.resource_kind.value,
                "owner_id": data.owner_id,
                "requester_id": data.requester_id,
                "network_id": data.network_id,
                "used_from": data.used_from,
                "used_to": data.used_to,
                "figure": data.figure,
            }
            for data in _newest_uses(items)
        ],
        where=lambda excluded, table: excluded.version > table.c.version,
    )


assessment_results_recorded = _facts(
    AssessmentResult,
    lambda data: data.result_id,
    lambda data: {
        "id": data.result_id,
        "organization_id": data.organization_id,
        "procedure": data.procedure,
        "subject": data.subject,
        "grade": data.grade,
        "year": data.year,
        "participants": data.participants,
        "mean_score": data.mean_score,
        "lowest_mark_share": float(data.mark_shares.get(LOWEST_MARK, 0.0)),
    },
)

trainings_recorded = _facts(
    Training,
    lambda data: data.training_id,
    lambda data: {
        "id": data.training_id,
        "educator_id": data.educator_id,
        "organization_id": data.organization_id,
        "course": data.course,
        "hours": data.hours,
        "completed_on": data.completed_on,
    },
)

deficits_recorded = _facts(
    Deficit,
    lambda data: data.deficit_id,
    lambda data: {
        "id": data.deficit_id,
        "educator_id": data.educator_id,
        "organization_id": data.organization_id,
        "competency": data.competency,
        "level": data.level,
        "diagnosed_on": data.diagnosed_on,
    },
)


# -- the audit trail ---------------------------------------------------------------------------------


@batch
async def audit_recorded(session: AsyncSession, items: list[Item]) -> None:
    """Keep each entry as recorded, once: an entry is a fact (its id is the service's), so one
    delivered again, under the same message id or another, changes nothing."""
    await _upsert(
        session,
        AuditEntry,
        [
            {
                "entry_id": data.entry_id,
                "at": utc(data.at),
                "service": data.service,
                "operation": data.operation,
                "subject": data.subject,
                "roles": list(data.roles),
                "actor_region_code": data.actor_region_code,
                "actor_municipality_id": data.actor_municipality_id,
                "actor_organization_id": data.actor_organization_id,
                "region_code": data.region_code,
                "municipality_id": data.municipality_id,
                "organization_ids": list(data.organization_ids),
                "events": [event.model_dump(mode="json") for event in data.events],
            }
            for data in (item.data for item in _first_by(items, lambda data: data.entry_id).values())
        ],
        index=("entry_id",),
        keep_existing=True,
    )


@batch
async def educators_erased(session: AsyncSession, items: list[Item]) -> None:
    """Read models keep educators as ids (figures stay the same); the plumbing may hold more."""
    for item in items:
        await erasure.forget(session, str(item.data.educator_id))


organization_registered = one_at_a_time(organizations_registered)

REGISTRY_HANDLERS: dict[Any, BatchHandler] = {
    OrganizationRegistered: organizations_registered,
    OrganizationUpdated: organizations_updated,
    OrganizationArchived: organizations_archived,
    OrganizationStatusChanged: statuses_changed,
    RiskProfileAssessed: risk_profiles_assessed,
    EducatorRegistered: educators_changed,
    EducatorUpdated: educators_changed,
    EducatorRegisteredV1: educators_changed,
    EducatorUpdatedV1: educators_changed,
    EducatorErased: educators_erased,
    NetworkCreated: networks_created,
    NetworkUpdated: networks_updated,
    NetworkClosed: networks_closed,
    MemberJoined: memberships_changed,
    MemberLeft: memberships_changed,
    CentreDesignated: centres_designated,
    ResourceOffered: resources_offered,
    ResourceWithdrawn: resources_withdrawn,
    ResourceUsed: resources_used,
}
"""What analytics keeps of the registry's events (``setka.registry``); other types are ignored."""

EVENTS_HANDLERS: dict[Any, BatchHandler] = {
    PlanDrafted: plans_drafted,
    PlanItemAdded: plan_items_added,
    PlanAgreed: plan_moved_to(PlanStatus.agreed),
    PlanStarted: plan_moved_to(PlanStatus.in_progress),
    PlanClosed: plan_moved_to(PlanStatus.closed),
    PlanAmended: plans_amended,
    PlanItemDone: plan_items_done,
    ActivityPlanned: activities_planned,
    ActivityUpdatedByRegion: activities_planned,
    ActivityAnnounced: activity_became(ActivityStatus.announced),
    ActivityHeld: activity_became(ActivityStatus.held),
    ActivityReported: activity_became(ActivityStatus.reported),
    ActivityCancelled: activity_became(ActivityStatus.cancelled),
    ActivityPostponed: activity_became(ActivityStatus.postponed),
    AttendanceRecorded: attendance_recorded,
    FeedbackGiven: feedback_given,
    MobilityRecorded: mobility_changed,
    MobilityCorrected: mobility_changed,
    MobilityDeleted: mobility_changed,
    AssessmentResultRecorded: assessment_results_recorded,
    TrainingRecorded: trainings_recorded,
    DeficitRecorded: deficits_recorded,
}
"""What analytics keeps of the events service's events (``setka.events``); registrations of
participants (who signed up, not who came) and members' proposals to plans (an accepted one
arrives as its item) are not needed and are ignored."""

CONSUMED: dict[str, dict[Any, BatchHandler]] = {
    topics.REGISTRY: REGISTRY_HANDLERS,
    topics.EVENTS: EVENTS_HANDLERS,
}
"""The topics the read models are built from, each with its handlers (what a rebuild replays)."""

AUDIT_HANDLERS: dict[Any, BatchHandler] = {AuditRecorded: audit_recorded}
"""What analytics keeps of every service's audit trail (``setka.audit``)."""

KEPT: dict[str, dict[Any, BatchHandler]] = {topics.AUDIT: AUDIT_HANDLERS}
"""Topics analytics keeps as they were recorded rather than projects: the audit trail. A rebuild
neither rewinds nor empties them: the trail is the record of who changed what, and may be older
than what the topic still holds; keeping it once by its entry id needs no replay."""

SUBSCRIBED: dict[str, dict[Any, BatchHandler]] = {**CONSUMED, **KEPT}
"""Every topic analytics reads, each with its handlers: one consumer group reads them all."""

PROJECTED: tuple[type[AnalyticsModel], ...] = (
    Region,
    RegionSummary,
    Organization,
    OrganizationStatus,
    RiskProfile,
    Educator,
    Employment,
    Network,
    Membership,
    Resource,
    Plan,
    PlanItem,
    Activity,
    Attendance,
    Feedback,
    Mobility,
    ResourceUse,
    AssessmentResult,
    Training,
    Deficit,
)
"""Every table the handlers of :data:`CONSUMED` keep: what a rebuild empties and a replay fills
again. Alerts are not here: rules raise them over the read models at a time, they are not a
projection of events; nor is the audit trail (see :data:`KEPT`)."""
