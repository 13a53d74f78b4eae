"""What an effectiveness analysis says, as plain data: the subgraph, the workbook and the document
all present this one structure (анализ эффективности сетевого взаимодействия)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum


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

    def previous(self) -> Period:
        """The period of the same length just before: whole calendar months compare with as many
        months before (a year with the year before, a quarter with the quarter before); other
        periods with as many days before."""
        if self.start.day == 1 and self.end.day == 1:
            months = (self.end.year - self.start.year) * 12 + self.end.month - self.start.month
            index = self.start.year * 12 + self.start.month - 1 - months
            return Period(date(index // 12, index % 12 + 1, 1), self.start)
        return Period(self.start - timedelta(days=self.days), self.start)

    def label(self) -> str:
        last = self.end - timedelta(days=1)
        return f"{self.start:%d.%m.%Y} – {last:%d.%m.%Y}"


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
        return Period(date(year, 9, 1), date(year + 1, 9, 1))
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
