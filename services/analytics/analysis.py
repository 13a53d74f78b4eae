"""The effectiveness analysis (анализ эффективности сетевого взаимодействия) of a school, network,
municipality or region for a period: every indicator next to the previous period's value and the
target its region or network set (none: the trend only), the trend and a status, and the
supported schools that need attention, with the reasons.

Also the readers of what a request names (a scope, a period), so the GraphQL layer and any other
entrypoint refuse the same things with the same words.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from setka_runtime.errors import DomainError, NotFound
from sqlalchemy import Select, case, distinct, exists, func, not_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from . import effects
from .analysis_model import (
    PROCEDURE_NAMES,
    Analysis,
    AnalysisRules,
    AppliedTarget,
    Better,
    IndicatorDefinition,
    IndicatorValue,
    Period,
    SchoolAttention,
    Scope,
    ScopeKind,
    Status,
    Trend,
)
from .indicators import INDICATORS, Figure, Frame, deficit_overdue, prepared, results_world
from .models import AssessmentResult, Deficit, Network, Organization
from .targets import applied_targets, region_name, region_title

TOLERANCE = 0.02
"""A change within 2 % of the larger of the two values is no change (the trend is flat)."""
ENGAGEMENT_FLOOR = 0.3
"""A supported school whose educators took part less than this (a share) needs attention."""
REGION_CODE = re.compile(r"\d{2,3}")
FIRST_YEAR, LAST_YEAR = 2000, 2100


class AnalysisRequestError(DomainError):
    """A scope or a period that cannot be analysed; the message says why, to the one who asked."""


class UnknownScope(NotFound):
    """The network, school or municipality analysed is not known to analytics."""


# --- what a request names ---------------------------------------------------------------------------


def parse_scope(kind: ScopeKind | str, key: str) -> Scope:
    """The scope ``kind`` + ``key``: a region by its code (``39``), anything else by its id."""
    try:
        kind = ScopeKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in ScopeKind)
        raise AnalysisRequestError(
            f"Неизвестный вид области анализа «{kind}»: одно из {choices}", code="UNKNOWN_CHOICE"
        ) from None
    key = key.strip()
    if kind == ScopeKind.region:
        if not REGION_CODE.fullmatch(key):
            raise AnalysisRequestError(
                f"«{key}» — не код региона (две или три цифры, например 39)", code="REGION_CODE_FORMAT"
            )
        return Scope(kind, key)
    try:
        return Scope(kind, str(uuid.UUID(key)))
    except ValueError:
        raise AnalysisRequestError(f"«{key}» — не идентификатор ({kind.value})", code="INVALID_ID") from None


def parse_scope_reference(text: str) -> Scope:
    """A scope written as ``kind:key``, e.g. ``network:<uuid>`` or ``region:39``."""
    kind, separator, key = text.partition(":")
    if not separator:
        raise AnalysisRequestError(
            f"«{text}» — не область анализа: пишите вид:ключ, например region:39", code="SCOPE_FORMAT"
        )
    return parse_scope(kind.strip(), key)


def period_of(
    *,
    year: int | None = None,
    quarter: int | None = None,
    start: date | None = None,
    last: date | None = None,
    school_year: int | None = None,
) -> Period:
    """A calendar year, a quarter of one, a school year (September to August, named by the year
    it starts in: 2025 for 2025/26), or the days from ``start`` to ``last`` inclusive."""
    if school_year is not None:
        if year is not None or quarter is not None or start is not None or last is not None:
            raise AnalysisRequestError(
                "Укажите либо учебный год, либо календарный год (и квартал), либо даты — что-то одно",
                code="PERIOD_CONFLICT",
            )
        if not FIRST_YEAR <= school_year <= LAST_YEAR:
            raise AnalysisRequestError(
                f"Учебный год — от {FIRST_YEAR} до {LAST_YEAR}, а не {school_year}", code="YEAR_OUT_OF_RANGE"
            )
        return Period.school_year(school_year)
    if start is not None or last is not None:
        if year is not None or quarter is not None:
            raise AnalysisRequestError(
                "Укажите либо год (и квартал), либо даты с и по, но не то и другое", code="PERIOD_CONFLICT"
            )
        if start is None or last is None:
            raise AnalysisRequestError(
                "Для периода по датам нужны обе даты: с и по", code="PERIOD_INCOMPLETE"
            )
        if last < start:
            raise AnalysisRequestError(
                "Период не может закончиться раньше, чем начался", code="END_BEFORE_START"
            )
        return Period(start, last + timedelta(days=1))
    if year is None:
        raise (
            AnalysisRequestError("Для квартала нужен год", code="QUARTER_WITHOUT_YEAR")
            if quarter is not None
            else AnalysisRequestError(
                "Укажите год (и квартал), учебный год или даты с и по", code="PERIOD_REQUIRED"
            )
        )
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise AnalysisRequestError(
            f"Год — от {FIRST_YEAR} до {LAST_YEAR}, а не {year}", code="YEAR_OUT_OF_RANGE"
        )
    if quarter is None:
        return Period.year(year)
    if quarter not in (1, 2, 3, 4):
        raise AnalysisRequestError("Квартал — 1, 2, 3 или 4", code="QUARTER_OUT_OF_RANGE")
    return Period.quarter(year, quarter)


# --- how an indicator stands --------------------------------------------------------------------------


def trend_of(value: float | None, previous: float | None) -> Trend:
    """Up, down, or flat within :data:`TOLERANCE`; unknown without both values."""
    if value is None or previous is None:
        return Trend.unknown
    if abs(value - previous) <= TOLERANCE * max(abs(value), abs(previous)) + 1e-9:
        return Trend.flat
    return Trend.up if value > previous else Trend.down


def status_of(
    definition: IndicatorDefinition, value: float | None, trend: Trend, target: float | None
) -> Status:
    """Against the target its region or network set: good at or past it, bad short of it and
    worsening, attention otherwise; without a target no judgement (only the trend is shown)."""
    if value is None:
        return Status.no_data
    if target is None:
        return Status.no_target
    if value >= target if definition.better == Better.higher else value <= target:
        return Status.good
    worsening = Trend.down if definition.better == Better.higher else Trend.up
    return Status.bad if trend == worsening else Status.attention


def _valued(
    definition: IndicatorDefinition, now: Figure, before: Figure, target: AppliedTarget | None
) -> IndicatorValue:
    trend = trend_of(now.value, before.value)
    return IndicatorValue(
        definition=definition,
        value=now.value,
        previous=before.value,
        numerator=now.numerator,
        denominator=now.denominator,
        schools=now.schools,
        breakdown=now.breakdown,
        trend=trend,
        status=status_of(definition, now.value, trend, None if target is None else target.value),
        note=now.note,
        target=target,
        comparison=now.comparison,
    )


# --- the analysis ------------------------------------------------------------------------------------


async def scope_title(session: AsyncSession, scope: Scope) -> str:
    """What the scope is called, in Russian; :class:`UnknownScope` for what analytics never heard of."""
    if scope.kind == ScopeKind.region:
        return region_title(scope.key, await region_name(session, scope.key))
    if scope.kind == ScopeKind.network:
        name = await session.scalar(select(col(Network.name)).where(col(Network.id) == scope.id))
        if name is None:
            raise UnknownScope(f"no network with id {scope.key}")
        return str(name)
    if scope.kind == ScopeKind.school:
        found = (
            await session.execute(
                select(col(Organization.short_name)).where(col(Organization.id) == scope.id)
            )
        ).first()
        if found is None:
            raise UnknownScope(f"no organization with id {scope.key}")
        return str(found[0] or f"Организация {scope.key}")
    found = (
        await session.execute(
            select(func.count(), func.max(Organization.municipality)).where(
                col(Organization.municipality_id) == scope.id
            )
        )
    ).one()
    if not found[0]:
        raise UnknownScope(f"no organization in municipality {scope.key}")
    return str(found[1] or f"Муниципальное образование {scope.key}")


async def indicator_values(
    session: AsyncSession,
    scope: Scope,
    period: Period,
    *,
    now: datetime | None = None,
    rules: AnalysisRules | None = None,
    frame: Frame | None = None,
) -> list[IndicatorValue]:
    """Every indicator for ``period``, next to its value for the period compared with
    (:meth:`Period.previous`: the same season a year before) and the target that applies
    (:func:`.targets.applied_targets`)."""
    await prepared(session)
    today = (now or datetime.now(UTC)).date()
    rules = rules or AnalysisRules()
    current = frame or Frame(scope, period, today, rules=rules)
    previous = Frame(scope, period.previous(), today, rules=rules)
    targets = await applied_targets(session, scope, period)
    values = []
    for indicator in INDICATORS:
        figure = await indicator.compute(session, current)
        before = await indicator.compute(session, previous)
        values.append(_valued(indicator.definition, figure, before, targets.get(indicator.definition.id)))
    return values


async def build_analysis(
    session: AsyncSession,
    scope: Scope,
    period: Period,
    *,
    now: datetime | None = None,
    rules: AnalysisRules | None = None,
) -> Analysis:
    now = now or datetime.now(UTC)
    rules = rules or AnalysisRules()
    title = await scope_title(session, scope)
    frame = Frame(scope, period, now.date(), rules=rules)  # its figures read once for both
    values = await indicator_values(session, scope, period, now=now, rules=rules, frame=frame)
    attention = await schools_needing_attention(session, frame)
    return Analysis(
        scope=scope,
        scope_title=title,
        period=period,
        previous_period=period.previous(),
        generated_at=now,
        indicators=values,
        schools_needing_attention=attention,
        rules=rules,
    )


# --- the schools that need attention ------------------------------------------------------------------


def _number(value: float) -> str:
    """A figure as a Russian reader writes it: one decimal, a decimal comma."""
    return f"{value:.1f}".replace(".", ",")


def _deviations(value: float) -> str:
    """A standardised change: two decimals, a decimal comma, the unit."""
    return f"{value:.2f}".replace(".", ",") + f" {effects.UNIT}"


async def schools_needing_attention(session: AsyncSession, frame: Frame) -> list[SchoolAttention]:
    """The supported schools of the frame with a reason to look at them: no network activity in
    the period, few of their educators taking part, standardised results (:mod:`.effects`) fallen by at
    least :data:`.effects.DECLINE` standard deviations since the baseline year or no
    results for the year (only of the procedures whose results fall due in the period and are
    due by today), deficits not addressed within their N days (:func:`.indicators.deficit_overdue`,
    as the alert)."""
    await prepared(session)
    supported = frame.supported()
    reasons: dict[uuid.UUID, list[str]] = {}

    def add(rows: Iterable[tuple[uuid.UUID, str]]) -> None:
        for ident, reason in rows:
            reasons.setdefault(ident, []).append(reason)

    idle = select(col(Organization.id)).where(
        col(Organization.id).in_(supported), not_(frame.took_part(Organization.id))
    )
    add((ident, "ни одного сетевого мероприятия за период") for ident in await session.scalars(idle))

    employed = frame.educators().subquery()
    took_part = frame.attended_for(employed.c.educator_id, employed.c.organization_id)
    engagement = select(
        employed.c.organization_id,
        func.count(distinct(employed.c.educator_id)),
        func.count(distinct(case((took_part, employed.c.educator_id)))),
    ).group_by(employed.c.organization_id)
    add(
        (ident, f"в сетевых мероприятиях участвовали {took} из {educators} педагогов")
        for ident, educators, took in (await session.execute(engagement)).all()
        if took < ENGAGEMENT_FLOOR * educators
    )

    # results only of the procedures whose results fall due in the period and are due by today:
    # before its due month, a procedure's missing or changed results say nothing yet
    due = frame.procedures_due()
    if due:
        # standardised as the results' indicators are (.effects), so the list agrees with them
        world = await results_world(session, frame)
        baseline = f"относительно {frame.year - 1} года"
        for ident, (mean_change, lowest_change) in effects.supported_changes(
            world, frame.year, procedures=due
        ).items():
            if mean_change <= -effects.DECLINE:
                add([(ident, f"средний балл снизился на {_deviations(-mean_change)} {baseline}")])
            if lowest_change >= effects.DECLINE:
                add([(ident, f"доля низших отметок выросла на {_deviations(lowest_change)} {baseline}")])

        unreported = select(col(Organization.id)).where(
            col(Organization.id).in_(supported),
            not_(
                exists().where(
                    AssessmentResult.organization_id == Organization.id,
                    AssessmentResult.year == frame.year,
                    col(AssessmentResult.procedure).in_(due),
                )
            ),
        )
        names = ", ".join(PROCEDURE_NAMES.get(procedure, procedure) for procedure in due)
        add(
            (ident, f"нет результатов оценочных процедур за {frame.year} год ({names})")
            for ident in await session.scalars(unreported)
        )

    days = frame.rules.follow_up_days
    for ident, count in (await session.execute(_overdue_deficits(frame, supported))).all():
        add([(ident, f"дефицитов без курса или сетевого мероприятия по компетенции за {days} дней: {count}")])

    if not reasons:
        return []
    names = dict(
        (
            await session.execute(
                select(col(Organization.id), col(Organization.short_name)).where(
                    col(Organization.id).in_(list(reasons))
                )
            )
        ).all()
    )
    found = [
        SchoolAttention(ident, names.get(ident) or f"Организация {ident}", listed)
        for ident, listed in reasons.items()
    ]
    return sorted(found, key=lambda school: (-len(school.reasons), school.name, str(school.organization_id)))


def _overdue_deficits(frame: Frame, supported: Select[Any]) -> Select[Any]:
    """Per supported school: deficits diagnosed in the period, not addressed within their N days."""
    return (
        select(col(Deficit.organization_id), func.count())
        .where(
            col(Deficit.organization_id).in_(supported),
            frame.attended(Deficit.diagnosed_on),
            deficit_overdue(frame.rules.follow_up_days, frame.today),
        )
        .group_by(col(Deficit.organization_id))
    )
