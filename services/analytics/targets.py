"""Targets of the indicators (целевые значения): decisions of a region or a network, never Setka's.

A regional admin sets their region's target of an indicator for a calendar or school year; a
network's editors (its region's admin, the coordinator of its municipality) set the network's. An
analysis judges an indicator against the target that applies (:func:`applied_targets`): the
network's own over its region's, for a year whose days hold the analysed period. An indicator
nobody set a target for shows its trend only. Setka's old numbers are offered as suggestions
(``IndicatorDefinition.suggestion``, «предложение Setka»), never applied.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from setka_runtime.access import ALL_REGIONS, Identity, Role, Target
from setka_runtime.errors import DomainError
from sqlalchemy import and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from .analysis_model import AppliedTarget, Period, Scope, ScopeKind, YearKind, year_span
from .indicators import DEFINITIONS
from .models import IndicatorTarget, Network, Organization, Region

TARGET_SCOPES = (ScopeKind.region, ScopeKind.network)
"""Who decides targets: a region, a network."""
FIRST_YEAR, LAST_YEAR = 2000, 2100
LARGEST = 1_000_000.0
"""A target beyond this (in any unit) is a typing mistake."""


@dataclass(frozen=True)
class TargetKey:
    """What a target is of: a region's or network's indicator in a calendar or school year."""

    scope: Scope
    indicator: str
    year_kind: YearKind
    year: int


def region_title(code: str, name: str | None) -> str:
    """A region as titles name it: its name, or «субъект РФ 39» while analytics has not heard it."""
    return name or f"Субъект РФ {code}"


async def region_name(session: AsyncSession, code: str) -> str | None:
    return await session.scalar(select(col(Region.name)).where(col(Region.code) == code))


def _check_decider(scope: Scope) -> None:
    if scope.kind not in TARGET_SCOPES:
        raise DomainError(
            "Цели устанавливают субъект РФ (его администратор) или сеть (её координатор)",
            code="TARGET_SCOPE",
            field="scope",
        )


def check_key(
    scope: Scope, indicator: str, year_kind: YearKind | str, year: int, *, field: str = "indicatorId"
) -> TargetKey:
    """The key of a target as given; a DomainError names what is wrong."""
    _check_decider(scope)
    ident = indicator.strip()
    if ident not in DEFINITIONS:
        raise DomainError(f"Нет показателя «{indicator}»", code="UNKNOWN_INDICATOR", field=field)
    try:
        kind = YearKind(year_kind)
    except ValueError:
        raise DomainError(
            "Год цели — calendar (календарный) или school (учебный)", code="UNKNOWN_CHOICE", field="yearKind"
        ) from None
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise DomainError(f"Год — от {FIRST_YEAR} до {LAST_YEAR}", code="YEAR_OUT_OF_RANGE", field="year")
    return TargetKey(scope, ident, kind, year)


RANGES: dict[str, tuple[float | None, float | None]] = {
    "%": (0.0, 100.0),
    "на школу": (0.0, None),
    "ч": (0.0, None),
    "мероприятий": (0.0, None),
    "программ": (0.0, None),
}
"""The values a target may take, by the indicator's unit (a change in points or percentage points
may be negative); the participants' rating is from 1 to 5."""


def check_value(key: TargetKey, value: float) -> float:
    """A target value that can be one for the indicator (see :data:`RANGES`)."""
    definition = DEFINITIONS[key.indicator]
    if not math.isfinite(value) or abs(value) > LARGEST:
        raise DomainError("Цель — обычное число", code="TARGET_VALUE", field="value")
    low, high = (
        (1.0, 5.0) if key.indicator == "feedback_rating" else RANGES.get(definition.unit, (None, None))
    )
    if (low is not None and value < low) or (high is not None and value > high):
        limits = f"от {low:g}" + ("" if high is None else f" до {high:g}")
        raise DomainError(
            f"Цель показателя «{definition.title}» — {limits} ({definition.unit})",
            code="TARGET_OUT_OF_RANGE",
            field="value",
        )
    return float(value)


async def where_it_lands(session: AsyncSession, scope: Scope) -> Target:
    """The region (and a network's municipality) a target's write lands in; a DomainError for a
    network analytics has not heard of, or for what decides no targets."""
    _check_decider(scope)
    if scope.kind == ScopeKind.region:
        return Target.of(scope.key)
    row = (
        await session.execute(
            select(col(Network.region_code), col(Network.municipality_id)).where(col(Network.id) == scope.id)
        )
    ).first()
    if row is None:
        raise DomainError(f"Сеть {scope.key} аналитике не известна", code="UNKNOWN_NETWORK", field="id")
    return Target.of(row[0], row[1])


def acting_role(caller: Identity, target: Target) -> str:
    """The role a caller sets a target in: a regional admin's over a coordinator's."""
    if caller.has(Role.regional_admin) and caller.region_code in (ALL_REGIONS, target.region_code):
        return Role.regional_admin.value
    return Role.municipal_coordinator.value


async def set_target(
    session: AsyncSession, key: TargetKey, value: float, *, by: str, role: str, at: datetime
) -> IndicatorTarget:
    """Set (or replace) the target of ``key``: who set it and when are kept with it."""
    checked = check_value(key, value)
    landing = await where_it_lands(session, key.scope)
    row = await session.get(
        IndicatorTarget, (key.scope.kind.value, key.scope.key, key.indicator, key.year_kind.value, key.year)
    )
    if row is None:
        row = IndicatorTarget(
            scope_kind=key.scope.kind.value,
            scope_key=key.scope.key,
            indicator=key.indicator,
            year_kind=key.year_kind.value,
            year=key.year,
            value=checked,
            region_code=landing.region_code or "",
            set_by=by,
            set_by_role=role,
            set_at=at,
        )
        session.add(row)
    else:
        row.value, row.set_by, row.set_by_role, row.set_at = checked, by, role, at
    await session.flush()
    return row


async def clear_target(session: AsyncSession, key: TargetKey) -> bool:
    """Remove the target of ``key``; whether there was one."""
    await where_it_lands(session, key.scope)
    result = await session.execute(
        delete(IndicatorTarget).where(
            col(IndicatorTarget.scope_kind) == key.scope.kind.value,
            col(IndicatorTarget.scope_key) == key.scope.key,
            col(IndicatorTarget.indicator) == key.indicator,
            col(IndicatorTarget.year_kind) == key.year_kind.value,
            col(IndicatorTarget.year) == key.year,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def targets_of(session: AsyncSession, scope: Scope, year: int | None = None) -> list[IndicatorTarget]:
    """The targets a region or network set (of one year, calendar or school, or all), by year and
    indicator."""
    query = select(IndicatorTarget).where(
        col(IndicatorTarget.scope_kind) == scope.kind.value, col(IndicatorTarget.scope_key) == scope.key
    )
    if year is not None:
        query = query.where(col(IndicatorTarget.year) == year)
    rows = await session.scalars(query)
    order = list(DEFINITIONS)
    return sorted(rows, key=lambda row: (row.year, row.year_kind, order.index(row.indicator)))


async def _deciders(session: AsyncSession, scope: Scope) -> list[tuple[ScopeKind, str]]:
    """Whose targets apply to an analysis of ``scope``, the first winning: a network's own, then
    its region's; a region's; a municipality's or school's region."""
    if scope.kind == ScopeKind.region:
        return [(ScopeKind.region, scope.key)]
    if scope.kind == ScopeKind.network:
        region = await session.scalar(select(col(Network.region_code)).where(col(Network.id) == scope.id))
        found = [(ScopeKind.network, scope.key)]
        return found if region is None else [*found, (ScopeKind.region, region)]
    place = (
        col(Organization.id) == scope.id
        if scope.kind == ScopeKind.school
        else col(Organization.municipality_id) == scope.id
    )
    region = await session.scalar(select(col(Organization.region_code)).where(place).limit(1))
    return [] if region is None else [(ScopeKind.region, region)]


async def scope_names(session: AsyncSession, deciders: Sequence[tuple[ScopeKind, str]]) -> dict[str, str]:
    """The titles of the regions and networks that decide targets, by key."""
    regions = [key for kind, key in deciders if kind == ScopeKind.region]
    networks = [Scope(kind, key).id for kind, key in deciders if kind == ScopeKind.network]
    names: dict[str, str] = {code: region_title(code, None) for code in regions}
    if regions:
        rows = await session.execute(
            select(col(Region.code), col(Region.name)).where(col(Region.code).in_(regions))
        )
        names |= {code: name for code, name in rows.all()}
    if networks:
        rows = await session.execute(
            select(col(Network.id), col(Network.name)).where(col(Network.id).in_(networks))
        )
        names |= {str(ident): name for ident, name in rows.all()}
    return names


async def applied_targets(session: AsyncSession, scope: Scope, period: Period) -> dict[str, AppliedTarget]:
    """Per indicator, the target an analysis of ``scope`` in ``period`` is judged against: of the
    first decider (:func:`_deciders`) that set one for a year holding the whole period; of two such
    years (a calendar and a school year), the one whose days are the period's, else the newer."""
    deciders = await _deciders(session, scope)
    if not deciders:
        return {}
    holding = [
        and_(col(IndicatorTarget.year_kind) == kind.value, col(IndicatorTarget.year).in_(years))
        for kind in YearKind
        if (
            years := [y for y in range(period.start.year - 1, period.end.year + 1) if _holds(kind, y, period)]
        )
    ]
    if not holding:
        return {}
    rows = list(
        await session.scalars(
            select(IndicatorTarget).where(
                or_(
                    *(
                        and_(
                            col(IndicatorTarget.scope_kind) == kind.value,
                            col(IndicatorTarget.scope_key) == key,
                        )
                        for kind, key in deciders
                    )
                ),
                or_(*holding),
            )
        )
    )
    rank = {(kind.value, key): place for place, (kind, key) in enumerate(deciders)}

    def preference(row: IndicatorTarget) -> tuple[int, int, float]:
        exact = year_span(YearKind(row.year_kind), row.year) == period
        return (rank[(row.scope_kind, row.scope_key)], 0 if exact else 1, -row.set_at.timestamp())

    names = await scope_names(session, deciders)
    chosen: dict[str, AppliedTarget] = {}
    for row in sorted(rows, key=preference):
        if row.indicator in chosen:
            continue
        chosen[row.indicator] = AppliedTarget(
            value=row.value,
            scope_kind=ScopeKind(row.scope_kind),
            scope_key=row.scope_key,
            scope_title=names.get(row.scope_key, row.scope_key),
            year_kind=YearKind(row.year_kind),
            year=row.year,
            set_by_role=row.set_by_role,
            set_at=row.set_at,
        )
    return chosen


def _holds(kind: YearKind, year: int, period: Period) -> bool:
    span = year_span(kind, year)
    return span.start <= period.start and period.end <= span.end
