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
    """How an indicator stands: ``good`` (at or past its target, or improving without one),
    ``attention`` (short of the target but improving, or steady), ``bad`` (short and worsening),
    ``no_data`` (nothing to compute it from)."""

    good = "good"
    attention = "attention"
    bad = "bad"
    no_data = "no_data"


@dataclass(frozen=True)
class IndicatorDefinition:
    id: str
    title: str  # in Russian, as the regulations name it
    definition: str  # in Russian: how it is computed, in plain words
    unit: str  # "%", "на школу", "ч", "балл", ...
    better: Better
    target: float | None = None


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
