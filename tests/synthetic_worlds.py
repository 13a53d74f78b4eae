"""Synthetic regions with a known truth, to validate the comparison of results (:mod:`services.
analytics.effects`): deterministic by seed.

A world is one region of schools, each with a latent quality. Low quality makes a school likelier
to hold the ШНОР status; adverse conditions (ШФНСУ) come partly with it. About half of the
supported schools join one of the region's networks — when they join does not depend on their
quality, only on chance — most at the start of the 2024/25 school year, some in February, some
after the year's results (in October, too late for them), and some leave in spring; a few had
been in a network the year before and left. Each network has a centre and partners, and holds
activities in the 2024/25 school year: most of them many, some few.

Results of six cells (ВПР, ОГЭ, ЕГЭ in two subjects and grades, on their own scales: marks for
ВПР and ОГЭ, points for ЕГЭ) for 2023–2025: per school and cell, the cell's level plus its scale
times (quality + a lasting cell effect + a yearly noise + the planted effect), plus a region-wide
shift per cell and year; the lowest-mark share falls as that latent rises. The latent has unit
variance, so the planted effect is in standard deviations. Some schools have no grade 11, some
results are missing, and results arrive only after their procedure's due month (``as_of``).

The planted effect: ``effect`` for the 2025 results of a supported school that was a member, on
some day of the 2024/25 school year before its results (1 June), of a network that held at least
:data:`ACTIVE_FROM` activities that school year; nothing in 2023 and 2024 (the networks began in
September 2024, except the few who had left one).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
from sqlmodel import SQLModel

from services.analytics import effects
from services.analytics.analysis_model import AnalysisRules, Period
from services.analytics.models import (
    Activity,
    AssessmentResult,
    Employment,
    Membership,
    Network,
    Organization,
    OrganizationStatus,
    Region,
)

REGION = "39"
YEARS = (2023, 2024, 2025)
SCHOOLS = 360
NETWORKS = 8
ACTIVE_FROM = 5
"""A network with at least this many activities in the school year carries the effect."""
SCHOOL_YEAR = Period(date(2024, 9, 1), date(2025, 6, 1))
"""The days of the 2024/25 school year before its results: membership then carries the effect."""
CELLS = (
    # procedure, subject, grade, level, scale (a standard deviation of school means)
    ("vpr", "математика", 5, 3.6, 0.35),
    ("vpr", "русский язык", 6, 3.5, 0.3),
    ("oge", "математика", 9, 3.4, 0.3),
    ("oge", "русский язык", 9, 3.8, 0.25),
    ("ege", "русский язык", 11, 68.0, 7.0),
    ("ege", "математика", 11, 55.0, 9.0),
)
QUALITY, LASTING, YEARLY = 0.6, 0.15, 0.25
"""Variances of the latent's parts: they add up to 1."""


def _id(seed: int, kind: str, number: int) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"setka-synthetic:{seed}:{kind}:{number}")


@dataclass
class SyntheticSchool:
    id: uuid.UUID
    name: str
    quality: float
    status: str | None  # low_results, adverse_social_conditions or none
    educators: int
    senior: bool  # has grade 11


@dataclass(frozen=True)
class Stay:
    """A school's membership of a network."""

    network: int
    school: uuid.UUID
    role: str
    joined_on: date
    left_on: date | None = None

    def during(self, period: Period) -> bool:
        return self.joined_on < period.end and (self.left_on is None or self.left_on > period.start)


@dataclass
class SyntheticWorld:
    seed: int
    effect: float
    as_of: date
    schools: list[SyntheticSchool] = field(default_factory=list)
    network_ids: list[uuid.UUID] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    activities: list[tuple[int, uuid.UUID, date]] = field(default_factory=list)  # network, host, day
    rows: list[effects.ResultRow] = field(default_factory=list)
    planted: dict[tuple[uuid.UUID, int], float] = field(default_factory=dict)

    def facts(self, period: Period, year: int) -> effects.ResultsWorld:
        """Who is who in the region analysed for ``period`` (results of ``year`` against the year
        before), as the analysis reads it from the read models."""
        window = Period(date(year - 1, 1, 1), date(year + 1, 1, 1))
        supported = {school.id for school in self.schools if school.status is not None}
        supported |= {stay.school for stay in self.stays if stay.role == "supported" and stay.during(period)}
        members = {stay.school for stay in self.stays if stay.during(period)}
        return effects.ResultsWorld(
            rows=[row for row in self.rows if row.year in (year - 1, year)],
            schools=[
                effects.School(
                    school.id,
                    REGION,
                    effects.status_group([school.status] if school.status else []),
                    effects.size_band(school.educators),
                )
                for school in self.schools
            ],
            supported=supported,
            treated=supported & members,
            networked={stay.school for stay in self.stays if stay.during(window)},
        )

    def truth(self, schools: Iterable[uuid.UUID], year: int) -> float:
        """The planted change from ``year - 1`` to ``year``, averaged over ``schools``."""
        changes = [self.planted.get((s, year), 0.0) - self.planted.get((s, year - 1), 0.0) for s in schools]
        return float(np.mean(changes)) if changes else 0.0

    def models(self) -> list[SQLModel]:
        """The world as analytics' read models."""
        registered = datetime(2020, 1, 1, tzinfo=UTC)
        rows: list[SQLModel] = [Region(code=REGION, name="Синтетическая область")]
        for school in self.schools:
            rows.append(
                Organization(
                    id=school.id,
                    region_code=REGION,
                    kind="school",
                    registered_at=registered,
                    short_name=school.name,
                )
            )
            if school.status:
                rows.append(
                    OrganizationStatus(
                        organization_id=school.id, status=school.status, entered_on=date(2020, 1, 1)
                    )
                )
            rows += [
                Employment(
                    id=_id(self.seed, f"employment:{school.id}", n),
                    educator_id=_id(self.seed, f"educator:{school.id}", n),
                    organization_id=school.id,
                    started_on=date(2020, 9, 1),
                )
                for n in range(school.educators)
            ]
        rows += [
            Network(
                id=ident,
                name=f"Сеть {n + 1}",
                level="regional",
                region_code=REGION,
                started_on=date(2023, 9, 1),
            )
            for n, ident in enumerate(self.network_ids)
        ]
        rows += [
            Membership(
                id=_id(self.seed, "membership", n),
                network_id=self.network_ids[stay.network],
                organization_id=stay.school,
                role=stay.role,
                joined_on=stay.joined_on,
                left_on=stay.left_on,
            )
            for n, stay in enumerate(self.stays)
        ]
        for n, (network, host, day) in enumerate(self.activities):
            starts = datetime(day.year, day.month, day.day, 10, tzinfo=UTC)
            rows.append(
                Activity(
                    id=_id(self.seed, "activity", n),
                    title="Семинар",
                    network_id=self.network_ids[network],
                    host_organization_id=host,
                    activity_type="seminar",
                    processes=["training"],
                    format="in_person",
                    starts_at=starts,
                    ends_at=starts + timedelta(hours=2),
                    status="held",
                    held_on=day,
                )
            )
        rows += [
            AssessmentResult(
                id=_id(self.seed, "result", n),
                organization_id=row.school,
                procedure=row.procedure,
                subject=row.subject,
                grade=row.grade,
                year=row.year,
                participants=25,
                mean_score=row.mean,
                lowest_mark_share=row.lowest,
            )
            for n, row in enumerate(self.rows)
        ]
        return rows


def generate(seed: int, *, effect: float = 0.3, as_of: date = date(2026, 3, 1)) -> SyntheticWorld:
    """A world (see the module), the same for the same arguments."""
    rng = np.random.default_rng(seed)
    world = SyntheticWorld(seed, effect, as_of)
    quality = rng.normal(0, np.sqrt(QUALITY), SCHOOLS)
    for n in range(SCHOOLS):
        low = quality[n] + rng.normal(0, 0.5) < -0.85
        adverse = not low and quality[n] + rng.normal(0, 1.0) < -1.3
        world.schools.append(
            SyntheticSchool(
                id=_id(seed, "school", n),
                name=f"Школа {n + 1}",
                quality=float(quality[n]),
                status="low_results" if low else "adverse_social_conditions" if adverse else None,
                educators=min(120, max(5, int(rng.lognormal(np.log(25), 0.5)))),
                senior=bool(rng.random() < 0.7),
            )
        )
    world.network_ids = [_id(seed, "network", n) for n in range(NETWORKS)]

    # networks: a centre and two partners each, from the schools with no status
    others = [school for school in world.schools if school.status is None]
    order = rng.permutation(len(others))
    for network in range(NETWORKS):
        centre, *partners = (others[i] for i in order[3 * network : 3 * network + 3])
        world.stays.append(Stay(network, centre.id, "centre", date(2024, 9, 1)))
        world.stays += [Stay(network, partner.id, "partner", date(2024, 9, 1)) for partner in partners]
    # supported schools join by chance, not by quality
    for school in world.schools:
        if school.status is None:
            continue
        roll, network = rng.random(), int(rng.integers(NETWORKS))
        if roll < 0.38:
            left = date(2025, 4, 1) if rng.random() < 0.1 else None
            world.stays.append(Stay(network, school.id, "supported", date(2024, 9, 1), left))
        elif roll < 0.46:
            world.stays.append(Stay(network, school.id, "supported", date(2025, 2, 1)))
        elif roll < 0.52:
            world.stays.append(Stay(network, school.id, "supported", date(2025, 10, 1)))
        elif roll < 0.56:  # in a network the year before, left before this one
            world.stays.append(Stay(network, school.id, "supported", date(2023, 9, 1), date(2024, 6, 1)))

    # activities of the 2024/25 school year: most networks many, some few
    held: dict[int, int] = {}
    centres = {stay.network: stay.school for stay in world.stays if stay.role == "centre"}
    for network in range(NETWORKS):
        count = int(rng.poisson(12 if network % 4 else 2))
        held[network] = count
        for _ in range(count):
            day = date(2024, 9, 1) + timedelta(days=int(rng.integers(0, 300)))
            world.activities.append((network, centres[network], day))

    # the planted effect on the 2025 results
    for stay in world.stays:
        if stay.role == "supported" and stay.during(SCHOOL_YEAR) and held[stay.network] >= ACTIVE_FROM:
            world.planted[(stay.school, 2025)] = effect

    # results, with seasonality: a procedure's results of a year exist from its due month on
    rules = AnalysisRules()
    shape = (SCHOOLS, len(CELLS), len(YEARS))
    shifts = rng.normal(0, 0.2, shape[1:]).tolist()
    lasting = rng.normal(0, np.sqrt(LASTING), shape[:2]).tolist()
    yearly = rng.normal(0, np.sqrt(YEARLY), shape).tolist()
    wobble = rng.normal(0, 0.01, shape).tolist()
    missing = (rng.random(shape) < 0.05).tolist()
    arrived = [[rules.results_due_on(cell[0], year) <= as_of for year in YEARS] for cell in CELLS]
    for s, school in enumerate(world.schools):
        for c, (procedure, subject, grade, level, scale) in enumerate(CELLS):
            if grade == 11 and not school.senior:
                continue
            for y, year in enumerate(YEARS):
                if not arrived[c][y] or missing[s][c][y]:
                    continue
                latent = (
                    school.quality
                    + lasting[s][c]
                    + yearly[s][c][y]
                    + world.planted.get((school.id, year), 0.0)
                )
                mean = level + scale * (latent + shifts[c][y])
                lowest = min(1.0, max(0.0, 0.12 - 0.06 * latent + wobble[s][c][y]))
                world.rows.append(
                    effects.ResultRow(
                        school.id, REGION, procedure, subject, grade, year, float(mean), float(lowest)
                    )
                )
    return world
