"""The indicators of the effectiveness analysis (показатели эффективности сетевого взаимодействия),
each defined once: what it is called and means (in Russian, as a methodologist reads it), its unit,
which direction is better, Setka's suggested value if there is one (a suggestion, never a target:
targets are the region's or network's, :mod:`.targets`), and one function computing it for a scope
in a period.

Every figure is computed by the database (GROUP BY, COUNT DISTINCT, EXISTS) over the read models,
never by loading rows into Python: at national scale a region's analysis reads its attendance once
a period (the activity figures two indicators share) and finds the rest by index, per school or per
educator. The SQL is the portable subset PostgreSQL and SQLite share (a date moved by days and a
Unicode lower case are the two constructs each spells its own way, below). The one exception is the
comparison of results: the database reads each school's results of two years (a row per cell) and
facts, and :mod:`.effects` standardises, matches and draws the bootstrap on arrays.

Who is in a scope, and which schools are supported, is decided in :class:`Frame` once for all of
them; the decisions are written into the definitions a reader sees.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    String,
    and_,
    case,
    cast,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement
from sqlmodel import col

from . import effects
from .analysis_model import (
    AnalysisRules,
    Better,
    IndicatorDefinition,
    Period,
    ResultComparison,
    Scope,
    ScopeKind,
)
from .models import (
    Activity,
    AssessmentResult,
    Attendance,
    Deficit,
    Employment,
    Feedback,
    Membership,
    Mobility,
    Network,
    Organization,
    OrganizationStatus,
    PlanItem,
    ResourceUse,
    Training,
)

SUPPORT_STATUSES = ("low_results", "adverse_social_conditions")
"""Statuses that make a school supported: ШНОР and ШФНСУ."""
SUPPORTED_ROLE = "supported"
HOST_ROLES = ("centre", "partner")
HELD = ("held", "reported")
"""States of an activity that took place."""
ON_PREMISES = ("in_person", "blended")
FOLLOW_UP_DAYS = AnalysisRules().follow_up_days
"""Days after a diagnosis within which a deficit is to be addressed, unless set
(``ANALYTICS_DEFICIT_FOLLOW_UP_DAYS``)."""

SUPPORTED_TERM = (
    "Сопровождаемая школа — школа охвата, которая в периоде хотя бы день имела статус ШНОР "
    "(низкие образовательные результаты) или ШФНСУ (неблагоприятные социальные условия) либо "
    "состояла в сети в роли «сопровождаемая школа»; при анализе одной школы — сама школа."
)
NETWORK_ACTIVITY_TERM = (
    "Сетевое мероприятие — мероприятие, проведённое в рамках сети (при анализе сети — этой сети); "
    "день мероприятия — день его начала."
)
SCOPE_TERM = (
    "Охват: сеть — её участники в периоде; муниципалитет и субъект РФ — организации с этим "
    "муниципалитетом или кодом региона (кроме закрытых до начала периода); школа — сама школа."
)


# --- two constructs PostgreSQL and SQLite spell differently ------------------------------------


class days_after(FunctionElement[date]):
    """``day + days`` for a date column and a whole number of days."""

    type = Date()
    inherit_cache = True
    name = "days_after"

    def __init__(self, day: Any, days: int) -> None:
        super().__init__(day, literal_column(str(int(days))))


@compiles(days_after, "postgresql")
def _days_after_postgresql(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"({compiler.process(day, **kw)} + {compiler.process(days, **kw)})"


@compiles(days_after, "sqlite")
def _days_after_sqlite(element: days_after, compiler: SQLCompiler, **kw: Any) -> str:
    day, days = list(element.clauses)
    return f"date({compiler.process(day, **kw)}, '+' || {compiler.process(days, **kw)} || ' days')"


class folded(FunctionElement[str]):
    """Text in lower case, Cyrillic included (SQLite's own ``lower`` folds ASCII only)."""

    type = String()
    inherit_cache = True
    name = "folded"


SQLITE_LOWER = "setka_lower"


@compiles(folded)
def _folded(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(folded, "sqlite")
def _folded_sqlite(element: folded, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}({compiler.process(element.clauses, **kw)})"


def _lower(value: str | None) -> str | None:
    return None if value is None else value.lower()


async def prepared(session: AsyncSession) -> None:
    """Ready the session's transaction for the analysis' queries: on SQLite a ``lower`` that folds
    every letter; on PostgreSQL no JIT compilation (each query runs in milliseconds to a second,
    and compiling one of them to machine code took longer than running it)."""
    connection = await session.connection()
    if connection.dialect.name == "sqlite":
        raw = await connection.get_raw_connection()
        await raw.driver_connection.create_function(SQLITE_LOWER, 1, _lower, deterministic=True)  # type: ignore[union-attr]
    elif connection.dialect.name == "postgresql":
        await session.execute(text("SET LOCAL jit = off"))


# --- an addressed deficit: one definition for the indicator, the attention list and the alert ------

ADDRESSED_TERM = (
    "Дефицит считается проработанным, если не позже чем через N дней после диагностики (N — "
    "настройка ANALYTICS_DEFICIT_FOLLOW_UP_DAYS, по умолчанию 90) тот же педагог завершил курс "
    "повышения квалификации, в названии которого есть название компетенции, или посетил сетевое "
    "мероприятие (любой сети), в названии которого есть название компетенции (без учёта регистра). "
    "Курс или мероприятие позже N дней дефицит проработанным не делают: просрочка остаётся просрочкой."
)


def deficit_addressed(days: int) -> ColumnElement[bool]:
    """Whether the deficit (the row of :class:`Deficit` of the enclosing query) was addressed: see
    :data:`ADDRESSED_TERM`. The indicator, the attention list and the alert all ask this (SQLite
    needs the session :func:`prepared` first)."""
    deadline = days_after(Deficit.diagnosed_on, days)
    competency = folded(Deficit.competency)
    return or_(
        exists().where(
            Training.educator_id == Deficit.educator_id,
            Training.completed_on >= Deficit.diagnosed_on,
            Training.completed_on <= deadline,
            folded(Training.course).contains(competency),
        ),
        exists().where(
            Attendance.educator_id == Deficit.educator_id,
            Attendance.activity_day >= Deficit.diagnosed_on,
            Attendance.activity_day <= deadline,
            col(Attendance.network_id).is_not(None),
            Activity.id == Attendance.activity_id,
            folded(Activity.title).contains(competency),
        ),
    )


def deficit_due(days: int, today: date) -> ColumnElement[bool]:
    """The deficit's N days are over by ``today``: whether it was addressed is settled."""
    return Deficit.diagnosed_on <= today - timedelta(days=days)


def deficit_overdue(days: int, today: date) -> ColumnElement[bool]:
    """Its N days are over and it was not addressed within them."""
    return and_(deficit_due(days, today), not_(deficit_addressed(days)))


# --- who and what a scope covers in a period -----------------------------------------------------


def _overlaps(start: Any, end: Any, period: Period) -> ColumnElement[bool]:
    """Held from ``start`` (none: always) up to, not including, ``end`` (none: still) at some day of
    the period."""
    return and_(
        or_(start.is_(None), start < period.end),
        or_(end.is_(None), end > period.start),
    )


def _moment(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


@dataclass
class Frame:
    """A scope in a period as the SQL that selects who is in it and which activities count.

    ``today`` decides what is not due yet (plan items, deficits still within their N days,
    assessment results before their due month); ``rules`` are the region's settings of those
    days and months. Figures several indicators share are kept in ``memo`` for the frame's life.
    """

    scope: Scope
    period: Period
    today: date
    memo: dict[str, Any] = field(default_factory=dict)
    rules: AnalysisRules = field(default_factory=AnalysisRules)

    def procedures_due(self) -> list[str]:
        """The assessment procedures whose results of the period's year fall due in the period
        and are due by today: a result is expected (or compared) only for these."""
        return self.rules.procedures_due(self.period, self.year, self.today)

    @property
    def year(self) -> int:
        """The year of the period's last day: assessments are yearly."""
        return (self.period.end - timedelta(days=1)).year

    def _key(self) -> uuid.UUID:
        ident = self.scope.id
        assert ident is not None, "a region has a code, not an id"
        return ident

    def _alive(self) -> ColumnElement[bool]:
        return or_(
            col(Organization.archived_at).is_(None),
            col(Organization.archived_at) >= _moment(self.period.start),
        )

    def _in_network(self, membership: Any = Membership) -> ColumnElement[bool]:
        return and_(
            membership.network_id == self._key(),
            _overlaps(membership.joined_on, membership.left_on, self.period),
        )

    def members(self) -> Select[Any]:
        """Ids of the organizations in the scope during the period."""
        kind = self.scope.kind
        if kind == ScopeKind.network:
            return select(col(Membership.organization_id)).where(self._in_network()).distinct()
        ids = select(col(Organization.id).label("id"))
        if kind == ScopeKind.school:
            return ids.where(col(Organization.id) == self._key())
        if kind == ScopeKind.municipality:
            return ids.where(col(Organization.municipality_id) == self._key(), self._alive())
        return ids.where(col(Organization.region_code) == self.scope.key, self._alive())

    def _schools(self) -> Select[Any]:
        query = select(col(Organization.id).label("id"))
        if self.scope.kind == ScopeKind.school:
            return query.where(col(Organization.id) == self._key())
        if self.scope.kind == ScopeKind.network:
            return query.where(col(Organization.kind) == "school", col(Organization.id).in_(self.members()))
        return self.members().where(col(Organization.kind) == "school")

    def member_schools(self) -> Select[Any]:
        """Schools of the scope that took part in a network during the period (for a network: its
        schools; for a school: the school)."""
        if self.scope.kind in (ScopeKind.school, ScopeKind.network):
            return self._schools()
        return self._schools().where(
            exists().where(
                Membership.organization_id == Organization.id,
                _overlaps(Membership.joined_on, Membership.left_on, self.period),
            )
        )

    def supported(self) -> Select[Any]:
        """Ids of the supported schools of the scope (see :data:`SUPPORTED_TERM`)."""
        if self.scope.kind == ScopeKind.school:
            return self._schools()
        status = exists().where(
            OrganizationStatus.organization_id == Organization.id,
            col(OrganizationStatus.status).in_(SUPPORT_STATUSES),
            _overlaps(OrganizationStatus.entered_on, OrganizationStatus.left_on, self.period),
        )
        role = [
            Membership.organization_id == Organization.id,
            Membership.role == SUPPORTED_ROLE,
            _overlaps(Membership.joined_on, Membership.left_on, self.period),
        ]
        if self.scope.kind == ScopeKind.network:
            role.append(Membership.network_id == self._key())
        return self._schools().where(or_(status, exists().where(*role)))

    def networked(self, network_id: Any) -> ColumnElement[bool]:
        """The activity (attendance, mobility) belongs to the scope's network, or to any network."""
        if self.scope.kind == ScopeKind.network:
            return network_id == self._key()
        return network_id.is_not(None)  # type: ignore[no-any-return]

    def attended(self, day: Any) -> ColumnElement[bool]:
        return and_(day >= self.period.start, day < self.period.end)

    def held(self) -> ColumnElement[bool]:
        """The activity took place in the period, in the scope's network (or any network)."""
        return and_(
            col(Activity.status).in_(HELD),
            col(Activity.starts_at) >= _moment(self.period.start),
            col(Activity.starts_at) < _moment(self.period.end),
            self.networked(Activity.network_id),
        )

    def took_part(self, organization_id: Any) -> ColumnElement[bool]:
        """The organization attended a network activity of the period, or hosted one."""
        return or_(
            exists().where(
                Attendance.organization_id == organization_id,
                self.attended(Attendance.activity_day),
                self.networked(Attendance.network_id),
            ),
            exists().where(Activity.host_organization_id == organization_id, self.held()),
        )

    def educators(self) -> Select[Any]:
        """Employments at supported schools during the period: (organization, educator) pairs."""
        return (
            select(col(Employment.organization_id), col(Employment.educator_id))
            .where(
                col(Employment.organization_id).in_(self.supported()),
                _overlaps(Employment.started_on, Employment.ended_on, self.period),
            )
            .distinct()
        )

    def _for_school(self, educator_id: Any, organization_id: Any) -> list[ColumnElement[bool]]:
        return [
            Attendance.educator_id == educator_id,
            Attendance.organization_id == organization_id,
            self.attended(Attendance.activity_day),
            self.networked(Attendance.network_id),
        ]

    def attended_for(self, educator_id: Any, organization_id: Any) -> ColumnElement[bool]:
        """The educator attended a network activity of the period for that school: looked up by
        index for each of the (few) educators, never by reading all attendance."""
        return exists().where(*self._for_school(educator_id, organization_id))

    def hours_for(self, educator_id: Any, organization_id: Any) -> Any:
        """Hours the educator attended network activities of the period for that school."""
        return (
            select(func.coalesce(func.sum(Attendance.hours), 0.0))
            .where(*self._for_school(educator_id, organization_id))
            .scalar_subquery()
        )

    def addressed(self) -> ColumnElement[bool]:
        """The deficit was addressed within the frame's N days (:func:`deficit_addressed`)."""
        return deficit_addressed(self.rules.follow_up_days)

    def mobility(self) -> ColumnElement[bool]:
        """Mobility of the scope's organizations (as the sending side) starting in the period; for
        a network, the mobility recorded for that network."""
        conditions = [
            col(Mobility.home_organization_id).in_(self.members()),
            self.attended(Mobility.starts_on),
            col(Mobility.deleted_at).is_(None),
        ]
        if self.scope.kind == ScopeKind.network:
            conditions.append(Mobility.network_id == self._key())
        return and_(*conditions)


# --- what an indicator computes --------------------------------------------------------------------


NO_DATA = "нет данных: "
"""How the note of a figure with nothing to compute it from begins (the figure is null, never 0)."""


@dataclass(frozen=True)
class Figure:
    """One indicator's figure for one frame: the value and what stands behind it — how many
    schools (organizations of the scope) the figure is made of. A figure with nothing recorded to
    compute it from has no value and a note saying why (:func:`no_data`), never 0."""

    value: float | None
    numerator: float | None = None
    denominator: float | None = None
    schools: int = 0
    breakdown: dict[str, float] = field(default_factory=dict)
    note: str | None = None
    comparison: ResultComparison | None = None  # the results' indicators: interval and schools


def no_data(reason: str, **extra: Any) -> Figure:
    """A figure with nothing recorded to compute it from: no value, «нет данных: <reason>»."""
    return Figure(value=None, note=NO_DATA + reason, **extra)


Compute = Callable[[AsyncSession, Frame], Awaitable[Figure]]


@dataclass(frozen=True)
class Indicator:
    definition: IndicatorDefinition
    compute: Compute


def _share(part: float, whole: float, *, missing: str, **extra: Any) -> Figure:
    """A percentage; none when there is nothing to take it of, with ``missing`` as the reason."""
    return _ratio(part, whole, missing=missing, scale=100.0, **extra)


def _ratio(part: float, whole: float, *, missing: str, scale: float = 1.0, **extra: Any) -> Figure:
    """``part / whole``; none when ``whole`` is nothing, with ``missing`` as the reason."""
    if not whole:
        note = extra.pop("note", None)
        reason = NO_DATA + missing + ("" if note is None else f". {note}")
        return Figure(value=None, numerator=part, denominator=whole, note=reason, **extra)
    return Figure(value=scale * part / whole, numerator=part, denominator=whole, **extra)


async def _count(session: AsyncSession, query: Select[Any]) -> int:
    return int(await session.scalar(select(func.count()).select_from(query.subquery())) or 0)


async def coverage(session: AsyncSession, frame: Frame) -> Figure:
    supported = frame.supported().subquery()
    query = select(func.count(), func.count(case((frame.took_part(supported.c.id), 1)))).select_from(
        supported
    )
    schools, reached = (await session.execute(query)).one()
    return _share(reached, schools, schools=schools, missing="в охвате нет сопровождаемых школ")


@dataclass(frozen=True)
class ActivityFigures:
    """What one pass over the scope's attendance of the period says of activities: per activity
    type and list of processes, the supported school–activity pairs (attended or hosted) and the
    activities on premises one organization of the scope visited at another's."""

    pairs: dict[tuple[str, str], int]
    visited: int


async def _activity_figures(session: AsyncSession, frame: Frame) -> ActivityFigures:
    if "activities" in frame.memo:
        return frame.memo["activities"]  # type: ignore[no-any-return]
    supported = frame.supported()
    taking_part = union_all(
        select(
            col(Attendance.organization_id).label("organization_id"),
            col(Attendance.activity_id).label("activity_id"),
            col(Attendance.host_organization_id).label("host_id"),
        ).where(
            col(Attendance.organization_id).in_(frame.members()),
            frame.attended(Attendance.activity_day),
            frame.networked(Attendance.network_id),
        ),
        select(
            col(Activity.host_organization_id), col(Activity.id), col(Activity.host_organization_id)
        ).where(col(Activity.host_organization_id).in_(supported), frame.held()),
    ).subquery()
    school, host = taking_part.c.organization_id, taking_part.c.host_id
    per_activity = (
        select(
            taking_part.c.activity_id,
            func.count(distinct(case((school.in_(supported), school)))).label("schools"),
            func.max(case((school != host, 1), else_=0)).label("visited"),
        )
        .group_by(taking_part.c.activity_id)
        .subquery()
    )
    processes = cast(Activity.processes, String)
    query = (
        select(
            col(Activity.activity_type),
            processes,
            func.sum(per_activity.c.schools),
            func.sum(case((col(Activity.format).in_(ON_PREMISES), per_activity.c.visited), else_=0)),
        )
        .join(per_activity, per_activity.c.activity_id == Activity.id)
        .group_by(col(Activity.activity_type), processes)
    )
    rows = (await session.execute(query)).all()
    figures = ActivityFigures(
        pairs={(kind, listed or "[]"): int(pairs or 0) for kind, listed, pairs, _ in rows},
        visited=sum(int(visited or 0) for *_, visited in rows),
    )
    frame.memo["activities"] = figures
    return figures


async def activities_per_school(session: AsyncSession, frame: Frame) -> Figure:
    figures = await _activity_figures(session, frame)
    by_type: dict[str, int] = {}
    by_process: dict[str, int] = {}
    for (activity_type, listed), count in figures.pairs.items():
        by_type[activity_type] = by_type.get(activity_type, 0) + count
        for process in json.loads(listed):
            by_process[process] = by_process.get(process, 0) + count
    schools = await _count(session, frame.supported())
    breakdown: dict[str, float] = {}
    if schools:
        for prefix, counts in (("type", by_type), ("process", by_process)):
            breakdown |= {f"{prefix}:{name}": n / schools for name, n in sorted(counts.items()) if n}
    return _ratio(
        sum(by_type.values()),
        schools,
        schools=schools,
        breakdown=breakdown,
        missing="в охвате нет сопровождаемых школ",
    )


async def educator_engagement(session: AsyncSession, frame: Frame) -> Figure:
    employed = frame.educators().subquery()
    took_part = frame.attended_for(employed.c.educator_id, employed.c.organization_id)
    query = select(
        func.count(distinct(employed.c.educator_id)),
        func.count(distinct(case((took_part, employed.c.educator_id)))),
        func.count(distinct(employed.c.organization_id)),
    )
    educators, engaged, schools = (await session.execute(query)).one()
    return _share(
        engaged,
        educators,
        schools=schools,
        missing="не записано ни одного педагога сопровождаемых школ охвата",
    )


async def hours_per_educator(session: AsyncSession, frame: Frame) -> Figure:
    employed = frame.educators().subquery()
    query = select(
        func.coalesce(func.sum(frame.hours_for(employed.c.educator_id, employed.c.organization_id)), 0.0),
        func.count(distinct(employed.c.educator_id)),
        func.count(distinct(employed.c.organization_id)),
    )
    hours, educators, schools = (await session.execute(query)).one()
    return _ratio(
        float(hours),
        educators,
        schools=schools,
        missing="не записано ни одного педагога сопровождаемых школ охвата",
    )


async def partner_activation(session: AsyncSession, frame: Frame) -> Figure:
    hosts = select(col(Membership.organization_id).label("id")).where(
        col(Membership.role).in_(HOST_ROLES),
        _overlaps(Membership.joined_on, Membership.left_on, frame.period),
    )
    if frame.scope.kind == ScopeKind.network:
        hosts = hosts.where(Membership.network_id == frame.scope.id)
    else:
        hosts = hosts.where(col(Membership.organization_id).in_(frame.members()))
    partners = hosts.distinct().subquery()
    received = [
        Mobility.host_organization_id == partners.c.id,
        frame.attended(Mobility.starts_on),
        col(Mobility.deleted_at).is_(None),
    ]
    if frame.scope.kind == ScopeKind.network:
        received.append(Mobility.network_id == frame.scope.id)
    lent = [
        ResourceUse.owner_id == partners.c.id,
        ResourceUse.requester_id != partners.c.id,
        ResourceUse.used_from < frame.period.end,
        ResourceUse.used_to >= frame.period.start,
    ]
    if frame.scope.kind == ScopeKind.network:
        lent.append(ResourceUse.network_id == frame.scope.id)
    active = or_(
        exists().where(Activity.host_organization_id == partners.c.id, frame.held()),
        exists().where(*received),
        exists().where(*lent),
    )
    query = select(func.count(), func.count(case((active, 1)))).select_from(partners)
    total, activated = (await session.execute(query)).one()
    return _share(activated, total, schools=total, missing="в охвате нет центров и партнёров сетей")


async def widened_services(session: AsyncSession, frame: Frame) -> Figure:
    """Null with a reason when no organization of the scope attended an activity at all; else the
    count, behind it the organizations of the scope that visited another's premises and their
    hosts."""
    visited = (await _activity_figures(session, frame)).visited
    attended = and_(
        col(Attendance.organization_id).in_(frame.members()),
        frame.attended(Attendance.activity_day),
        frame.networked(Attendance.network_id),
    )
    if not await session.scalar(select(literal(1)).where(attended).limit(1)):
        return no_data("за период не записано ни одного посещения сетевых мероприятий организациями охвата")
    away = (
        select(
            col(Attendance.organization_id).label("id"), col(Attendance.host_organization_id).label("host")
        )
        .join(Activity, col(Activity.id) == Attendance.activity_id)
        .where(
            attended,
            col(Activity.format).in_(ON_PREMISES),
            Attendance.organization_id != Attendance.host_organization_id,
        )
        .subquery()
    )
    involved = union_all(select(away.c.id), select(away.c.host)).subquery()
    schools = await session.scalar(select(func.count(distinct(involved.c.id))))
    return Figure(value=float(visited), numerator=visited, schools=int(schools or 0))


NO_MOBILITY = "за период не записано ни одной академической мобильности организаций охвата"


async def mobility_hours(session: AsyncSession, frame: Frame) -> Figure:
    by_kind = (
        select(col(Mobility.kind), func.sum(Mobility.hours))
        .where(frame.mobility())
        .group_by(col(Mobility.kind))
        .order_by(col(Mobility.kind))
    )
    breakdown = {kind: float(hours or 0) for kind, hours in (await session.execute(by_kind)).all()}
    if not breakdown:
        return no_data(NO_MOBILITY)
    organizations = await session.scalar(
        select(func.count(distinct(Mobility.home_organization_id))).where(frame.mobility())
    )
    return Figure(value=sum(breakdown.values()), schools=int(organizations or 0), breakdown=breakdown)


async def joint_programmes(session: AsyncSession, frame: Frame) -> Figure:
    programmes = (
        select(col(Mobility.host_organization_id), col(Mobility.programme)).where(frame.mobility()).distinct()
    )
    organizations = await session.scalar(
        select(func.count(distinct(Mobility.home_organization_id))).where(frame.mobility())
    )
    if not organizations:
        return no_data(NO_MOBILITY)
    count = await _count(session, programmes)
    return Figure(value=float(count), numerator=count, schools=int(organizations))


async def deficits_addressed(session: AsyncSession, frame: Frame) -> Figure:
    await prepared(session)
    days = frame.rules.follow_up_days
    addressed = frame.addressed()
    waiting = and_(not_(addressed), not_(deficit_due(days, frame.today)))
    query = select(
        func.count(),
        func.count(case((addressed, 1))),
        func.count(case((waiting, 1))),
        func.count(distinct(Deficit.organization_id)),
    ).where(col(Deficit.organization_id).in_(frame.members()), frame.attended(Deficit.diagnosed_on))
    diagnosed, done, pending, schools = (await session.execute(query)).one()
    note = f"Ещё {pending} дефицитов выявлены менее {days} дней назад и не учтены." if pending else None
    return _share(
        done,
        diagnosed - pending,
        schools=schools,
        note=note,
        missing="за период не записано ни одного профессионального дефицита педагогов охвата"
        + (f" старше {days} дней" if pending else ""),
    )


# --- results against comparable schools (the method: :mod:`.effects`) ---------------------------


async def results_world(session: AsyncSession, frame: Frame) -> effects.ResultsWorld:
    """The frame's :class:`ResultsWorld`, read once for the frame's life."""
    if "results" in frame.memo:
        return frame.memo["results"]  # type: ignore[no-any-return]
    supported = frame.supported()
    regions = list(
        await session.scalars(
            select(col(Organization.region_code)).where(col(Organization.id).in_(supported)).distinct()
        )
    )
    world = effects.ResultsWorld()
    if regions:
        world = await _read_results(session, frame, regions)
    frame.memo["results"] = world
    return world


async def _read_results(session: AsyncSession, frame: Frame, regions: list[str]) -> effects.ResultsWorld:
    window = Period(date(frame.year - 1, 1, 1), date(frame.year + 1, 1, 1))

    def holds(status: str) -> ColumnElement[bool]:
        return exists().where(
            OrganizationStatus.organization_id == Organization.id,
            OrganizationStatus.status == status,
            _overlaps(OrganizationStatus.entered_on, OrganizationStatus.left_on, frame.period),
        )

    educators = (
        select(func.count(distinct(Employment.educator_id)))
        .where(
            Employment.organization_id == Organization.id,
            _overlaps(Employment.started_on, Employment.ended_on, frame.period),
        )
        .scalar_subquery()
    )
    supported = frame.supported()
    member = exists().where(
        Membership.organization_id == Organization.id,
        _overlaps(Membership.joined_on, Membership.left_on, frame.period),
        *([Membership.network_id == frame.scope.id] if frame.scope.kind == ScopeKind.network else []),
    )
    networked = exists().where(
        Membership.organization_id == Organization.id,
        _overlaps(Membership.joined_on, Membership.left_on, window),
    )
    facts = select(
        col(Organization.id),
        col(Organization.region_code),
        col(Organization.id).in_(supported),
        member,
        networked,
        *(holds(status) for status in effects.STATUS_GROUPS),
        educators,
    ).where(col(Organization.kind) == "school", col(Organization.region_code).in_(regions))
    cells = (
        select(
            col(AssessmentResult.organization_id),
            col(Organization.region_code),
            col(AssessmentResult.procedure),
            col(AssessmentResult.subject),
            col(AssessmentResult.grade),
            col(AssessmentResult.year),
            func.avg(AssessmentResult.mean_score),
            func.avg(AssessmentResult.lowest_mark_share),
        )
        .join(Organization, col(Organization.id) == AssessmentResult.organization_id)
        .where(
            col(Organization.kind) == "school",
            col(Organization.region_code).in_(regions),
            col(AssessmentResult.year).in_((frame.year - 1, frame.year)),
        )
        .group_by(
            col(AssessmentResult.organization_id),
            col(Organization.region_code),
            col(AssessmentResult.procedure),
            col(AssessmentResult.subject),
            col(AssessmentResult.grade),
            col(AssessmentResult.year),
        )
    )
    world = effects.ResultsWorld()
    for ident, region, is_supported, is_member, is_networked, *held, count in (
        await session.execute(facts)
    ).all():
        statuses = [status for status, yes in zip(effects.STATUS_GROUPS, held, strict=True) if yes]
        band = effects.size_band(int(count or 0))
        world.schools.append(effects.School(ident, region, effects.status_group(statuses), band))
        if is_supported:
            world.supported.add(ident)
            if is_member:
                world.treated.add(ident)
        if is_networked:
            world.networked.add(ident)
    world.rows.extend(
        effects.ResultRow(ident, region, procedure, subject, grade, year, float(mean), float(lowest))
        for ident, region, procedure, subject, grade, year, mean, lowest in (
            await session.execute(cells)
        ).all()
    )
    return world


async def _comparison(session: AsyncSession, frame: Frame) -> effects.Comparison:
    """The supported schools in networks against matched comparison schools (:mod:`.effects`)."""
    if "comparison" in frame.memo:
        return frame.memo["comparison"]  # type: ignore[no-any-return]
    world = await results_world(session, frame)
    comparison = effects.comparison_of(world, frame.year, min_schools=frame.rules.results_min_schools)
    frame.memo["comparison"] = comparison
    return comparison


def _result_figure(frame: Frame, estimate: effects.Estimate, unmatched: int) -> Figure:
    ours, theirs = estimate.supported_schools, estimate.comparison_schools
    breakdown = {"supported_schools": float(ours), "comparison_schools": float(theirs)}
    if estimate.supported_change is not None:
        breakdown["supported_change"] = estimate.supported_change
    if estimate.comparison_change is not None:
        breakdown["comparison_change"] = estimate.comparison_change
    years = f"{frame.year - 1} и {frame.year} годы"
    minimum = frame.rules.results_min_schools
    note = None
    if estimate.estimate is None:
        if not ours and not unmatched:
            note = f"{NO_DATA}нет результатов за {years} у сопровождаемых школ сетей"
        else:
            note = (
                f"{NO_DATA}недостаточно данных — сопровождаемых школ с результатами за {years} и "
                f"подобранными сравнимыми школами: {ours}, сравнимых школ: {theirs}; нужно не меньше "
                f"{minimum} с каждой стороны"
            )
    if unmatched:
        left_out = f"Сопровождаемых школ без сравнимой школы, не вошедших в расчёт: {unmatched}."
        note = left_out if note is None else f"{note}. {left_out}"
    comparison = ResultComparison(
        estimate=estimate.estimate,
        low=estimate.low,
        high=estimate.high,
        supported_schools=ours,
        comparison_schools=theirs,
        significant=estimate.significant,
        level=effects.LEVEL,
    )
    return Figure(
        value=estimate.estimate,
        schools=ours + theirs,
        breakdown=breakdown,
        note=note,
        comparison=comparison,
    )


async def results_mean_score_did(session: AsyncSession, frame: Frame) -> Figure:
    comparison = await _comparison(session, frame)
    return _result_figure(frame, comparison.mean_score, comparison.unmatched)


async def results_lowest_mark_did(session: AsyncSession, frame: Frame) -> Figure:
    comparison = await _comparison(session, frame)
    return _result_figure(frame, comparison.lowest_mark, comparison.unmatched)


async def plan_on_time(session: AsyncSession, frame: Frame) -> Figure:
    scope, key = frame.scope, frame.scope.id
    if scope.kind == ScopeKind.school:
        whose = PlanItem.responsible_organization_id == key
    elif scope.kind == ScopeKind.network:
        whose = PlanItem.network_id == key
    else:
        networks = select(col(Network.id)).where(
            Network.municipality_id == key
            if scope.kind == ScopeKind.municipality
            else Network.region_code == scope.key
        )
        whose = col(PlanItem.network_id).in_(networks)
    held_on_time = exists().where(
        Activity.plan_item_id == PlanItem.id,
        col(Activity.status).in_(HELD),
        col(Activity.held_on).is_not(None),
        col(Activity.held_on) <= PlanItem.due_on,
    )
    marked_on_time = and_(col(PlanItem.done_on).is_not(None), col(PlanItem.done_on) <= PlanItem.due_on)
    on_time = or_(held_on_time, marked_on_time)
    due = or_(on_time, PlanItem.due_on < frame.today)
    query = select(
        func.count(case((due, 1))),
        func.count(case((on_time, 1))),
        func.count(case((not_(due), 1))),
        func.count(distinct(PlanItem.responsible_organization_id)),
    ).where(whose, not_(col(PlanItem.withdrawn)), frame.attended(PlanItem.due_on))
    counted, done, ahead, schools = (await session.execute(query)).one()
    note = f"Ещё {ahead} пунктов со сроком после сегодняшнего дня не учтены." if ahead else None
    return _share(
        done, counted, schools=schools, note=note, missing="нет пунктов совместного плана со сроком в периоде"
    )


async def feedback_rating(session: AsyncSession, frame: Frame) -> Figure:
    query = (
        select(func.sum(Feedback.rating), func.count(), func.count(distinct(Activity.host_organization_id)))
        .join(Activity, col(Activity.id) == Feedback.activity_id)
        .where(frame.held())
    )
    if frame.scope.kind != ScopeKind.network:
        query = query.where(col(Activity.host_organization_id).in_(frame.members()))
    total, ratings, hosts = (await session.execute(query)).one()
    return _ratio(
        float(total or 0),
        ratings,
        schools=hosts,
        missing="за период нет ни одного отзыва участников о мероприятиях",
    )


# --- the registry of indicators --------------------------------------------------------------------

BALTIYSK = (
    "Положение о сетевом взаимодействии образовательных организаций Балтийского муниципального "
    "района (приказ управления образования администрации БМР от 10.08.2017 № 474)"
)
KALMYKIA = (
    "Положение о сетевом взаимодействии по повышению качества образования в школах с низкими "
    "результатами обучения и в школах, функционирующих в неблагоприятных социальных условиях "
    "(приказ БУ ДПО РК «КРИПКРО» от 01.03.2021 № 52)"
)
EXPECTED = "раздел «Ожидаемый результат организации сетевого взаимодействия»"

REGISTRY = "реестр организаций (статусы ШНОР и ШФНСУ, участие в сетях и роли в них)"
ACTIVITIES = "сервис мероприятий: проведённые мероприятия сетей и их посещаемость (педагоги, часы)"
EMPLOYMENT = "региональные сведения о работе педагогов в школах"
ATTENDANCE_DUE = (
    "Посещаемость отмечается после мероприятия; не отмеченная за ANALYTICS_ALERT_ATTENDANCE_GRACE_DAYS "
    "дней (по умолчанию 3) вызывает сигнал. Период можно анализировать через несколько дней после "
    "его окончания."
)
RESULTS_DUE = (
    "Результаты года ожидаются после месяца готовности каждой процедуры (настройка "
    "ANALYTICS_RESULT_DUE_MONTHS; по умолчанию ВПР — май, ОГЭ и ЕГЭ — июль, региональная "
    "диагностика — декабрь). До этого месяца отсутствие результатов не считается пропуском, а "
    "сравнение года с базовым годом предварительное."
)


@dataclass(frozen=True)
class Trace:
    """Where an indicator comes from: the expected result it measures, quoted, with the regulation
    and section; its formula; its data sources; when its data is in (all in Russian)."""

    expected_result: str
    regulation: str
    formula: str
    sources: tuple[str, ...]
    data_due: str


TRACES: dict[str, Trace] = {
    "coverage": Trace(
        "поддержка эффективного функционирования школ эффективного роста",
        f"{BALTIYSK}, {EXPECTED}",
        "число сопровождаемых школ, участвовавших в сетевом мероприятии периода или проводивших его "
        "/ число сопровождаемых школ × 100 %",
        (REGISTRY, ACTIVITIES),
        ATTENDANCE_DUE,
    ),
    "activities_per_school": Trace(
        "При сетевом взаимодействии реализуются процессы обучения, взаимообучения, совместного "
        "обучения, совместного обсуждения, обмена опытом, исследования, проектирования, "
        "программирования и др.",
        f"{BALTIYSK}, раздел 4 «Содержание и организация деятельности сетевого взаимодействия», п. Б",
        "число пар «сопровождаемая школа — сетевое мероприятие периода» / число сопровождаемых школ",
        (REGISTRY, ACTIVITIES),
        ATTENDANCE_DUE,
    ),
    "educator_engagement": Trace(
        "повышение профессионального роста учителя за счёт участия в сетевых профессиональных сообществах",
        f"{BALTIYSK}, {EXPECTED}",
        "число педагогов сопровождаемых школ, посетивших сетевое мероприятие периода / число "
        "педагогов этих школ в периоде × 100 %",
        (REGISTRY, ACTIVITIES, EMPLOYMENT),
        ATTENDANCE_DUE,
    ),
    "hours_per_educator": Trace(
        "повышение профессионального роста учителя за счёт участия в сетевых профессиональных сообществах",
        f"{BALTIYSK}, {EXPECTED}",
        "сумма часов посещения сетевых мероприятий периода педагогами сопровождаемых школ / число "
        "педагогов этих школ в периоде",
        (REGISTRY, ACTIVITIES, EMPLOYMENT),
        ATTENDANCE_DUE,
    ),
    "partner_activation": Trace(
        "активизация сетевых партнёров в решении конкретных образовательных проблем района",
        f"{BALTIYSK}, {EXPECTED}",
        "число центров и партнёров, проведших мероприятие, принявших мобильность или предоставивших "
        "ресурс в периоде / число центров и партнёров × 100 %",
        (REGISTRY, ACTIVITIES, "сервис мероприятий: академическая мобильность, заявки на ресурсы"),
        ATTENDANCE_DUE,
    ),
    "widened_services": Trace(
        "расширение сферы образовательных услуг за счёт привлечения ресурсов школ – партнёров",
        f"{BALTIYSK}, {EXPECTED}",
        "число очных и смешанных сетевых мероприятий периода на площадке одной организации с "
        "участием другой организации охвата",
        (REGISTRY, ACTIVITIES),
        ATTENDANCE_DUE,
    ),
    "mobility_hours": Trace(
        "возможность осуществления перемещений учащихся и (или) учителей образовательных "
        "организаций, входящих в сетевое взаимодействие",
        f"{KALMYKIA}, п. 1.4",
        "сумма часов программ академической мобильности с началом в периоде",
        ("сервис мероприятий: академическая мобильность учащихся и педагогов",),
        "Мобильность вносится при её начале; программа, начатая в периоде, учитывается сразу.",
    ),
    "joint_programmes": Trace(
        "возможность совместной организации деятельности по образовательным программам",
        f"{KALMYKIA}, п. 1.4",
        "число различных пар «принимающая организация — программа» мобильности с началом в периоде",
        ("сервис мероприятий: академическая мобильность учащихся и педагогов",),
        "Мобильность вносится при её начале; программа, начатая в периоде, учитывается сразу.",
    ),
    "deficits_addressed": Trace(
        "плана мероприятий адресной методической поддержки педагогических работников по устранению "
        "профессиональных дефицитов по результатам оценочных процедур",
        f"{KALMYKIA}, преамбула приказа: основания (приказ БУ ДПО РК «КРИПКРО» от 22.12.20 № 118)",
        "число проработанных дефицитов, выявленных в периоде / число дефицитов периода, у которых "
        "прошло N дней или которые уже проработаны × 100 %",
        (
            "региональные сведения: профессиональные дефициты педагогов (компетенция, дата диагностики)",
            "региональные сведения: курсы повышения квалификации педагогов",
            ACTIVITIES,
        ),
        "Дефицит учитывается, когда проработан или когда прошло N дней после диагностики "
        "(ANALYTICS_DEFICIT_FOLLOW_UP_DAYS, по умолчанию 90).",
    ),
    "results_mean_score_did": Trace(
        "Цель – повышение качества образования в школах с низкими результатами обучения и в "
        "школах, функционирующих в неблагоприятных социальных условиях.",
        f"{KALMYKIA}, п. 2.1",
        "среднее по сопровождаемым школам сетей [(z-оценка среднего балла в году периода − в базовом "
        "году) − среднее того же у до трёх подобранных сравнимых школ]; z-оценка — внутри процедуры, "
        "предмета, класса и года по школам субъекта РФ",
        (REGISTRY, "региональные сведения: результаты ВПР, ОГЭ, ЕГЭ, региональной диагностики"),
        RESULTS_DUE,
    ),
    "results_lowest_mark_did": Trace(
        "Цель – повышение качества образования в школах с низкими результатами обучения и в "
        "школах, функционирующих в неблагоприятных социальных условиях.",
        f"{KALMYKIA}, п. 2.1",
        "среднее по сопровождаемым школам сетей [(z-оценка доли низших отметок в году периода − в "
        "базовом году) − среднее того же у подобранных сравнимых школ], в стандартных отклонениях",
        (REGISTRY, "региональные сведения: результаты ВПР, ОГЭ, ЕГЭ, региональной диагностики"),
        RESULTS_DUE,
    ),
    "plan_on_time": Trace(
        "Для координации действий между образовательными организациями разрабатывается совместный "
        "план деятельности участников сетевого взаимодействия",
        f"{KALMYKIA}, п. 3.2; п. 5.2 («согласование плана совместных действий общеобразовательных "
        "организаций сети»)",
        "число пунктов плана со сроком в периоде, выполненных не позже срока / число таких пунктов, "
        "срок которых наступил или которые выполнены × 100 %",
        ("сервис мероприятий: совместные планы сетей, их изменения и отметки о выполнении", ACTIVITIES),
        "Пункт учитывается со дня своего срока; выполненный раньше — сразу.",
    ),
    "feedback_rating": Trace(
        "ориентация на образовательные потребности участников сетевого взаимодействия",
        f"{BALTIYSK}, раздел «Принципы и условия развития сетевого взаимодействия»",
        "сумма оценок (1–5) в отзывах о сетевых мероприятиях периода / число отзывов",
        ("сервис мероприятий: отзывы участников о мероприятиях",),
        "Отзывы собираются после мероприятия; отзывы, поданные позже, меняют значение задним числом.",
    ),
}
"""Each indicator's trace, by id: the one place the methodology, the GraphQL descriptions and the
report's annex take it from."""


@dataclass(frozen=True)
class Dropped:
    """An indicator Setka used to compute and no longer does, and why (in Russian)."""

    id: str
    title: str
    reason: str


DROPPED: tuple[Dropped, ...] = (
    Dropped(
        "assessment_unity",
        "Единство подходов к оценке качества образования",
        "Ожидаемый результат «повышение качества образования; обеспечивающее единство подходов к "
        f"системе оценки качества образования» назван в документе «{BALTIYSK}» ({EXPECTED}); положение "
        "Республики Калмыкия такого результата не называет: оценочные процедуры в нём — основание "
        "адресной поддержки педагогов по устранению дефицитов (основания приказа), а не предмет "
        "оценки сети. Единство подходов — это общие критерии и процедуры внутренней оценки "
        "качества у школ сети; Setka их не получает. Прежний показатель (доля школ сети с любыми "
        "результатами за год) измерял полноту загрузки внешних результатов, чьи критерии и так "
        "едины по стране, и в начале года ложно падал до нуля. Поэтому показатель не "
        "рассчитывается; полнота результатов видна в списке школ, требующих внимания («нет "
        "результатов оценочных процедур», только после месяца готовности результатов), а адресная "
        "работа по результатам — в показателе «Адресная работа с профессиональными дефицитами».",
    ),
)


def _defined(
    id: str,
    title: str,
    definition: str,
    unit: str,
    compute: Compute,
    *,
    better: Better = Better.higher,
    suggestion: float | None = None,
) -> Indicator:
    trace = TRACES[id]
    return Indicator(
        IndicatorDefinition(
            id,
            title,
            definition,
            unit,
            better,
            suggestion,
            expected_result=trace.expected_result,
            regulation=trace.regulation,
            formula=trace.formula,
            sources=list(trace.sources),
            data_due=trace.data_due,
        ),
        compute,
    )


INDICATORS: tuple[Indicator, ...] = (
    _defined(
        "coverage",
        "Охват сопровождаемых школ сетевыми мероприятиями",
        "Доля сопровождаемых школ охвата, которые за период хотя бы раз участвовали в сетевом "
        "мероприятии (школа или её педагог отмечены в посещаемости) или провели его у себя. "
        f"{SUPPORTED_TERM} {NETWORK_ACTIVITY_TERM}",
        "%",
        coverage,
        suggestion=90.0,
    ),
    _defined(
        "activities_per_school",
        "Сетевые мероприятия на одну сопровождаемую школу",
        "Среднее число сетевых мероприятий периода, в которых участвовала или которые провела одна "
        "сопровождаемая школа: число пар «школа — мероприятие», делённое на число сопровождаемых "
        "школ. Разбивка — по видам мероприятий (type:…) и по процессам сетевого взаимодействия "
        f"(process:…); мероприятие с несколькими процессами учитывается в каждом. {SUPPORTED_TERM}",
        "на школу",
        activities_per_school,
    ),
    _defined(
        "educator_engagement",
        "Вовлечённость педагогов сопровождаемых школ",
        "Доля педагогов, работавших в периоде в сопровождаемых школах охвата, которые хотя бы раз "
        "отмечены в посещаемости сетевого мероприятия периода от своей школы. "
        f"{SUPPORTED_TERM}",
        "%",
        educator_engagement,
        suggestion=50.0,
    ),
    _defined(
        "hours_per_educator",
        "Часы участия в сетевых мероприятиях на одного педагога",
        "Сумма часов посещения сетевых мероприятий периода педагогами сопровождаемых школ от своей "
        "школы, делённая на число всех педагогов этих школ, включая не "
        f"участвовавших. {SUPPORTED_TERM}",
        "ч",
        hours_per_educator,
    ),
    _defined(
        "partner_activation",
        "Активность центров и партнёров сети",
        "Доля организаций охвата, состоявших в периоде в сети в роли «центр» или «партнёр», "
        "которые провели у себя хотя бы одно сетевое мероприятие периода, приняли у себя "
        "академическую мобильность учащихся или педагогов другой организации или чей ресурс "
        "(кадровый, методический, материально-технический) другая организация использовала по "
        "принятой заявке в дни периода — по отметке об использовании (при анализе сети — "
        "мобильность и заявки этой сети).",
        "%",
        partner_activation,
        suggestion=75.0,
    ),
    _defined(
        "widened_services",
        "Услуги, полученные на базе партнёров",
        "Число сетевых мероприятий периода в очном или смешанном формате, которые прошли на "
        "площадке одной организации и в которых участвовала другая организация охвата (её "
        f"педагоги или представители). {NETWORK_ACTIVITY_TERM}",
        "мероприятий",
        widened_services,
    ),
    _defined(
        "mobility_hours",
        "Часы академической мобильности",
        "Сумма часов программ, по которым учащиеся или педагоги организаций охвата занимались в "
        "другой организации, с началом в периоде (при анализе сети — мобильность этой сети). "
        "Разбивка — по видам мобильности (учащиеся, педагоги).",
        "ч",
        mobility_hours,
    ),
    _defined(
        "joint_programmes",
        "Совместные образовательные программы",
        "Число различных программ (пар «принимающая организация — программа»), по которым "
        "учащиеся или педагоги организаций охвата занимались в другой организации, с началом в "
        "периоде (при анализе сети — мобильность этой сети).",
        "программ",
        joint_programmes,
    ),
    _defined(
        "deficits_addressed",
        "Адресная работа с профессиональными дефицитами",
        "Доля проработанных профессиональных дефицитов среди дефицитов педагогов организаций "
        f"охвата, выявленных в периоде. {ADDRESSED_TERM} Дефициты, выявленные менее N дней назад и "
        "ещё не проработанные, не учитываются (их число указано в примечании).",
        "%",
        deficits_addressed,
        suggestion=80.0,
    ),
    _defined(
        "results_mean_score_did",
        "Динамика среднего балла сопровождаемых школ относительно сравнимых",
        "Разность разностей в стандартных отклонениях. Средний балл школы по каждой процедуре, "
        "предмету и классу сначала переводится в z-оценку среди всех школ её субъекта РФ с "
        "результатом по той же процедуре, предмету и классу в том же году; изменение школы — "
        "среднее изменение её z-оценок от базового года (года перед годом периода) к году периода "
        "по тем процедурам, предметам и классам, по которым у неё есть результаты в оба года. "
        "Каждой сопровождаемой школе, состоявшей в периоде в сети, подбираются до трёх сравнимых "
        "школ того же субъекта РФ, не состоявших в эти два года ни в одной сети, с тем же статусом "
        "(ШНОР, ШФНСУ, прочие) и той же группой по числу педагогов, с ближайшей z-оценкой в "
        "базовом году (не дальше 0,5 ст. откл.). Значение — среднее по сопровождаемым школам "
        "разности их изменения и среднего изменения их сравнимых школ; рядом — 95-процентный "
        "доверительный интервал (бутстреп по школам) и число школ каждой группы. Больше нуля — "
        "сопровождаемые школы выросли сильнее сравнимых; при числе школ меньше минимума "
        f"(ANALYTICS_RESULTS_MIN_SCHOOLS) значения нет. {SUPPORTED_TERM}",
        effects.UNIT,
        results_mean_score_did,
        suggestion=0.0,
    ),
    _defined(
        "results_lowest_mark_did",
        "Динамика доли низших отметок сопровождаемых школ относительно сравнимых",
        "Разность разностей в стандартных отклонениях, как для среднего балла, по доле участников "
        "оценочных процедур с низшей отметкой: z-оценки доли среди школ субъекта РФ в той же "
        "процедуре, предмете, классе и году, те же сравнимые школы (подобранные по среднему баллу "
        "базового года), тот же доверительный интервал. Меньше нуля — доля низших отметок у "
        f"сопровождаемых школ снизилась сильнее, чем у сравнимых. {SUPPORTED_TERM}",
        effects.UNIT,
        results_lowest_mark_did,
        better=Better.lower,
        suggestion=0.0,
    ),
    _defined(
        "plan_on_time",
        "Выполнение совместного плана в срок",
        "Доля пунктов совместных планов со сроком в периоде, выполненных не позже срока: "
        "мероприятие пункта проведено или задача (договор, справка) отмечена выполненной. Планы — "
        "сети (при анализе сети), сетей муниципалитета или субъекта РФ; при анализе школы — "
        "пункты, за которые она отвечает. Пункты, срок которых ещё не наступил и которые ещё не "
        "выполнены, и пункты, исключённые из плана изменениями, не учитываются.",
        "%",
        plan_on_time,
        suggestion=90.0,
    ),
    _defined(
        "feedback_rating",
        "Оценка мероприятий участниками",
        "Средняя оценка (от 1 до 5) в отзывах участников о сетевых мероприятиях, проведённых в "
        "периоде организациями охвата (при анализе сети — о мероприятиях сети).",
        "балл",
        feedback_rating,
        suggestion=4.0,
    ),
)

DEFINITIONS: dict[str, IndicatorDefinition] = {i.definition.id: i.definition for i in INDICATORS}
