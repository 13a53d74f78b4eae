"""What an effectiveness analysis says, as plain data: the subgraph, the workbook and the document
all present this one structure (анализ эффективности сетевого взаимодействия)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType


class ScopeKind(StrEnum):
    school = "school"
    network = "network"
    municipality = "municipality"
    region = "region"


@dataclass(frozen=True)
class Scope:
    """Whose interaction is analysed: one school, one network, one municipality (by id) or one
    region (by its code, e.g. ``39``)."""

    kind: ScopeKind
    key: str

    @property
    def id(self) -> uuid.UUID | None:
        return uuid.UUID(self.key) if self.kind != ScopeKind.region else None


@dataclass(frozen=True)
class Period:
    """Days from ``start`` up to, not including, ``end``."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError("a period ends after it starts")

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(date(year, 1, 1), date(year + 1, 1, 1))

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        if quarter not in (1, 2, 3, 4):
            raise ValueError("a quarter is 1, 2, 3 or 4")
        start = date(year, 3 * quarter - 2, 1)
        end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        return cls(start, end)

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @classmethod
    def school_year(cls, first_year: int) -> Period:
        """The school year from 1 September of ``first_year`` to 31 August of the next (2025/26)."""
        return cls(date(first_year, 9, 1), date(first_year + 1, 9, 1))

    @property
    def months(self) -> int | None:
        """How many whole calendar months the period is, when it is whole months; else None."""
        if self.start.day != 1 or self.end.day != 1:
            return None
        return (self.end.year - self.start.year) * 12 + self.end.month - self.start.month

    def previous(self) -> Period:
        """The period to compare with, so that a season compares with the same season: whole
        calendar months up to a year (a quarter, a school year, a calendar year) with the same
        months a year before; other periods up to a year with the same days a year before; a
        longer period with as long a period (as many months) just before it."""
        months = self.months
        if months is not None:
            back = 12 if months <= 12 else months
            index = self.start.year * 12 + self.start.month - 1 - back
            start = date(index // 12, index % 12 + 1, 1)
            return Period(start, self.start if back == months else _years_back(self.end, 1))
        if self.days <= 366:
            start, end = _years_back(self.start, 1), _years_back(self.end, 1)
            if end > start:
                return Period(start, end)
        return Period(self.start - timedelta(days=self.days), self.start)

    def is_school_year(self) -> bool:
        return self.start.month == 9 and self.start.day == 1 and self.end == date(self.start.year + 1, 9, 1)

    def label(self) -> str:
        last = self.end - timedelta(days=1)
        dates = f"{self.start:%d.%m.%Y} – {last:%d.%m.%Y}"
        if self.is_school_year():
            return f"{year_label(YearKind.school, self.start.year)} ({dates})"
        return dates


def _years_back(day: date, years: int) -> date:
    """The same day ``years`` years before; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


RESULT_DUE_MONTHS: Mapping[str, int] = MappingProxyType(
    {"vpr": 5, "oge": 7, "ege": 7, "regional_diagnostic": 12}
)
"""The month (1–12) by whose end each assessment procedure's results of a year are in, unless set:
ВПР in spring (May), ОГЭ and ЕГЭ in summer (July), a regional diagnostic by December."""
PROCEDURE_NAMES: Mapping[str, str] = MappingProxyType(
    {"vpr": "ВПР", "oge": "ОГЭ", "ege": "ЕГЭ", "regional_diagnostic": "региональная диагностика"}
)


@dataclass(frozen=True)
class AnalysisRules:
    """What the region decides about the analysis' calendar, in settings: the days within which a
    deficit is to be addressed, and the month by whose end each procedure's results are in."""

    follow_up_days: int = 90
    result_due_months: Mapping[str, int] = field(default_factory=lambda: RESULT_DUE_MONTHS)
    results_min_schools: int = 10
    """Fewer supported or comparison schools than this in a comparison of results: no estimate."""

    def results_due_on(self, procedure: str, year: int) -> date:
        """The first day a procedure's results of ``year`` are expected (after its due month)."""
        month = self.result_due_months.get(procedure, 12)
        return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)

    def procedures_due(self, period: Period, year: int, today: date) -> list[str]:
        """The procedures whose results of ``year`` fall due within the period (their due month
        begins in it) and are due by ``today``: only these are expected of a school then."""
        due = []
        for procedure, month in self.result_due_months.items():
            begins = date(year, month, 1)
            if period.start <= begins < period.end and self.results_due_on(procedure, year) <= today:
                due.append(procedure)
        return due


class Better(StrEnum):
    higher = "higher"
    lower = "lower"


class Trend(StrEnum):
    up = "up"
    down = "down"
    flat = "flat"
    unknown = "unknown"


class Status(StrEnum):
    """How an indicator stands against the target its region or network set: ``good`` (at or
    past it), ``attention`` (short of it but improving, or steady), ``bad`` (short and worsening),
    ``no_target`` (nobody set one: only its trend is shown), ``no_data`` (nothing to compute it
    from)."""

    good = "good"
    attention = "attention"
    bad = "bad"
    no_target = "no_target"
    no_data = "no_data"


class YearKind(StrEnum):
    """The year a target is set for: a calendar year, or a school year (1 September to 31 August,
    named by the year it starts in)."""

    calendar = "calendar"
    school = "school"


def year_span(kind: YearKind, year: int) -> Period:
    """The days of a calendar year, or of the school year that starts in ``year``."""
    if kind == YearKind.school:
        return Period.school_year(year)
    return Period.year(year)


def year_label(kind: YearKind, year: int) -> str:
    """«2025 год» or «2025/26 учебный год»."""
    if kind == YearKind.school:
        return f"{year}/{(year + 1) % 100:02d} учебный год"
    return f"{year} год"


ROLE_NAMES = {
    "regional_admin": "региональный администратор",
    "municipal_coordinator": "муниципальный координатор",
}
"""Who may set a target, as the report names them."""


@dataclass(frozen=True)
class AppliedTarget:
    """The target an indicator is judged against, and where it came from: the region or network
    that decided it (a network's target beats its region's), for which year, by whom (a role) and
    when."""

    value: float
    scope_kind: ScopeKind
    scope_key: str
    scope_title: str
    year_kind: YearKind
    year: int
    set_by_role: str
    set_at: datetime

    def source(self) -> str:
        """Where the target came from, in Russian (e.g. «цель сети «Сеть А» на 2025 год;
        установил муниципальный координатор 12.03.2025»)."""
        whose = (
            f"цель сети «{self.scope_title}»"
            if self.scope_kind == ScopeKind.network
            else f"цель субъекта РФ «{self.scope_title}»"
        )
        who = ROLE_NAMES.get(self.set_by_role, self.set_by_role)
        return f"{whose} на {year_label(self.year_kind, self.year)}; установил {who} {self.set_at:%d.%m.%Y}"


@dataclass(frozen=True)
class IndicatorDefinition:
    id: str
    title: str  # in Russian, as the regulations name it
    definition: str  # in Russian: how it is computed, in plain words
    unit: str  # "%", "на школу", "ч", "балл", ...
    better: Better
    suggestion: float | None = None
    """Setka's own number for the indicator («предложение Setka»): offered to those who set
    targets, never a target itself."""
    expected_result: str = ""  # in Russian: the expected result it measures, quoted from a regulation
    regulation: str = ""  # in Russian: the regulation and its section the quote is from
    formula: str = ""  # in Russian: the formula, numerator / denominator
    sources: list[str] = field(default_factory=list)  # in Russian: where its data comes from
    data_due: str = ""  # in Russian: when its data is in for a period


@dataclass(frozen=True)
class ResultComparison:
    """A comparison of the supported schools' results with matched comparison schools: the
    difference in differences in standard deviations, its confidence interval (none below the
    minimum number of schools), and how many schools stand on each side."""

    estimate: float | None
    low: float | None
    high: float | None
    supported_schools: int
    comparison_schools: int
    significant: bool
    level: float = 0.95


@dataclass
class IndicatorValue:
    definition: IndicatorDefinition
    value: float | None
    previous: float | None
    numerator: float | None = None
    denominator: float | None = None
    schools: int = 0  # how many schools stand behind the figure (how far to trust it)
    breakdown: dict[str, float] = field(default_factory=dict)  # e.g. per activity type
    trend: Trend = Trend.unknown
    status: Status = Status.no_data
    note: str | None = None
    target: AppliedTarget | None = None  # none: nobody set one, so only the trend is shown
    comparison: ResultComparison | None = None  # the results' indicators: interval and schools


@dataclass
class SchoolAttention:
    organization_id: uuid.UUID
    name: str
    reasons: list[str]  # in Russian


@dataclass
class Analysis:
    scope: Scope
    scope_title: str
    period: Period
    previous_period: Period
    generated_at: datetime
    indicators: list[IndicatorValue]
    schools_needing_attention: list[SchoolAttention]
    rules: AnalysisRules = field(default_factory=AnalysisRules)  # the settings it was computed by
