"""Like-for-like results (сопоставимые результаты оценочных процедур): the one place that says how
the analysis compares the supported schools' results with those of comparable schools.

1. **Standardisation.** A school's mean score (and its share of the lowest mark) in one cell —
   procedure × subject × grade × year, within its region — becomes a z-score among all the
   region's schools with a result in that cell that year: (value − the cell's mean) / the cell's
   standard deviation. A 5-point change in ЕГЭ and a 0.3-mark change in ВПР become changes in
   the same unit, standard deviations (ст. откл.), and can be averaged.
2. **A school's change** is the mean, over the cells it has results in both years, of its z in the
   period's year minus its z in the baseline year; its **baseline** is its mean z of the mean score
   in the baseline year over those cells.
3. **Matching.** Each supported school is compared with up to :data:`NEIGHBOURS` schools of the
   same region in no network during the two years, of the same status group (ШНОР, ШФНСУ, other)
   and size band (educators), whose baseline is nearest to its own and within :data:`CALIPER`.
4. **Difference in differences:** the mean over the matched supported schools of (its change − the
   mean change of its comparison schools).
5. **Uncertainty:** a seeded bootstrap over schools (both sides resampled, :data:`REPLICATES`
   times, fixed :data:`SEED`) gives the :data:`LEVEL` interval; an estimate whose interval excludes
   0 is significant. Below a minimum number of schools on either side there is no estimate.

These are pure functions on arrays (numpy); the SQL that reads the rows is in :mod:`.indicators`.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import numpy.typing as npt

NEIGHBOURS = 3
"""Comparison schools per supported school, at most."""
CALIPER = 0.5
"""A comparison school's baseline is at most this many standard deviations from the supported
school's."""
REPLICATES = 1000
"""Bootstrap replicates."""
SEED = 20_251
"""The bootstrap's seed: the same data always gives the same interval."""
LEVEL = 0.95
"""The confidence level of the interval."""
DECLINE = 0.2
"""A supported school's standardised result falling by at least this much (ст. откл.) from the
baseline year puts it on the list of schools needing attention."""
SIZE_BANDS = (15, 40)
"""Educators in the period: fewer than 15, 15 to 39, 40 and more (none recorded: a band of its own)."""
SIZE_BAND_NAMES = {
    "none": "педагоги не записаны",
    "small": "до 14 педагогов",
    "medium": "15–39 педагогов",
    "large": "40 педагогов и более",
}
STATUS_GROUPS = ("low_results", "adverse_social_conditions")
"""Status groups matched exactly, in precedence (a school with both counts as ШНОР); any other
school is ``other``."""
STATUS_GROUP_NAMES = {"low_results": "ШНОР", "adverse_social_conditions": "ШФНСУ", "other": "прочие"}
UNIT = "ст. откл."

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]


def status_group(statuses: Iterable[str]) -> str:
    """The status group of a school holding ``statuses`` in the period."""
    held = set(statuses)
    return next((status for status in STATUS_GROUPS if status in held), "other")


def size_band(educators: int) -> str:
    """The size band of a school with this many educators in the period."""
    if educators <= 0:
        return "none"
    if educators < SIZE_BANDS[0]:
        return "small"
    return "medium" if educators < SIZE_BANDS[1] else "large"


# --- standardisation ---------------------------------------------------------------------------------


def standardised(cells: Ints, values: Floats) -> Floats:
    """z-scores of ``values`` within each cell (the integer code of region × procedure × subject ×
    grade × year): (value − cell mean) / cell standard deviation (of the population). NaN where a
    cell has fewer than two schools (nothing to stand against); 0 where all its values are equal."""
    if not len(values):
        return np.zeros(0)
    counts = np.bincount(cells).astype(np.float64)
    means = np.bincount(cells, weights=values) / np.maximum(counts, 1)
    deviations = values - means[cells]
    spread = np.sqrt(np.bincount(cells, weights=deviations**2) / np.maximum(counts, 1))
    spread_of = spread[cells]
    z = np.where(spread_of > 1e-9, deviations / np.where(spread_of > 1e-9, spread_of, 1.0), 0.0)
    z[counts[cells] < 2] = np.nan
    return z


@dataclass(frozen=True)
class ResultRow:
    """A school's result in one cell (averaged if recorded more than once)."""

    school: uuid.UUID
    region: str
    procedure: str
    subject: str
    grade: int
    year: int
    mean: float
    lowest: float


@dataclass(frozen=True)
class SchoolChanges:
    """Per school (``schools``, in order): its baseline z of the mean score, the change of its z of
    the mean score and of the lowest-mark share, and over how many cells."""

    schools: list[uuid.UUID]
    baseline: Floats
    mean_change: Floats
    lowest_change: Floats
    cells: Ints

    def of(self) -> dict[uuid.UUID, tuple[float, float, float]]:
        """(baseline, mean change, lowest change) by school."""
        return {
            school: (float(b), float(m), float(lo))
            for school, b, m, lo in zip(
                self.schools, self.baseline, self.mean_change, self.lowest_change, strict=True
            )
        }


def school_changes(
    rows: Sequence[ResultRow], year: int, *, procedures: Collection[str] | None = None
) -> SchoolChanges:
    """Each school's standardised change from ``year - 1`` to ``year`` (see the module), over the
    cells of ``procedures`` only, when given; schools with no cell in both years are left out."""
    chosen = [
        row
        for row in rows
        if row.year in (year - 1, year) and (procedures is None or row.procedure in procedures)
    ]
    if not chosen:
        empty = np.zeros(0)
        return SchoolChanges([], empty, empty, empty, np.zeros(0, dtype=np.int64))
    cell_codes: dict[tuple[str, str, str, int], int] = {}
    school_codes: dict[uuid.UUID, int] = {}
    cell = np.fromiter(
        (
            cell_codes.setdefault((row.region, row.procedure, row.subject, row.grade), len(cell_codes))
            for row in chosen
        ),
        dtype=np.int64,
        count=len(chosen),
    )
    school = np.fromiter(
        (school_codes.setdefault(row.school, len(school_codes)) for row in chosen),
        dtype=np.int64,
        count=len(chosen),
    )
    now = np.fromiter((row.year == year for row in chosen), dtype=bool, count=len(chosen))
    means = np.fromiter((row.mean for row in chosen), dtype=np.float64, count=len(chosen))
    lowest = np.fromiter((row.lowest for row in chosen), dtype=np.float64, count=len(chosen))
    cell_year = cell * 2 + now
    z_mean, z_lowest = standardised(cell_year, means), standardised(cell_year, lowest)

    key = school * len(cell_codes) + cell
    now_rows, base_rows = np.flatnonzero(now), np.flatnonzero(~now)
    _, in_now, in_base = np.intersect1d(key[now_rows], key[base_rows], return_indices=True)
    at_now, at_base = now_rows[in_now], base_rows[in_base]
    mean_change = z_mean[at_now] - z_mean[at_base]
    lowest_change = z_lowest[at_now] - z_lowest[at_base]
    baseline = z_mean[at_base]
    usable = ~(np.isnan(mean_change) | np.isnan(lowest_change))
    owner = school[at_now][usable]
    schools_found = np.unique(owner)
    counts = np.bincount(owner, minlength=len(school_codes))

    def per_school(values: Floats) -> Floats:
        return (
            np.bincount(owner, weights=values[usable], minlength=len(school_codes)) / np.maximum(counts, 1)
        )[schools_found]

    ids = list(school_codes)
    return SchoolChanges(
        [ids[code] for code in schools_found],
        per_school(baseline),
        per_school(mean_change),
        per_school(lowest_change),
        counts[schools_found].astype(np.int64),
    )


# --- matching ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class School:
    """A school that may stand on either side of the comparison."""

    id: uuid.UUID
    region: str
    status: str  # a status group: low_results, adverse_social_conditions, other
    band: str  # a size band: none, small, medium, large
    baseline: float = 0.0  # its baseline z of the mean score (see the module)


def matches(treated: Sequence[School], pool: Sequence[School]) -> list[list[int]]:
    """For each supported school, the indexes into ``pool`` of up to :data:`NEIGHBOURS` schools of
    its region, status group and size band whose baselines are nearest to its own, within
    :data:`CALIPER` (nearest first; an equal distance: the smaller id first). Drawn with
    replacement: a comparison school may stand for several supported schools."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for index, school in enumerate(pool):
        groups.setdefault((school.region, school.status, school.band), []).append(index)
    ordered = {
        key: sorted(indexes, key=lambda i: (pool[i].baseline, str(pool[i].id)))
        for key, indexes in groups.items()
    }
    baselines = {key: np.array([pool[i].baseline for i in indexes]) for key, indexes in ordered.items()}
    found: list[list[int]] = []
    for school in treated:
        key = (school.region, school.status, school.band)
        indexes = ordered.get(key, [])
        if not indexes:
            found.append([])
            continue
        at = int(np.searchsorted(baselines[key], school.baseline))
        window = indexes[max(0, at - NEIGHBOURS - 1) : at + NEIGHBOURS + 1]
        near = sorted(
            (abs(pool[i].baseline - school.baseline), str(pool[i].id), i)
            for i in window
            if abs(pool[i].baseline - school.baseline) <= CALIPER
        )
        found.append([i for *_, i in near[:NEIGHBOURS]])
    return found


# --- the estimate and its interval -------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A difference in differences with its interval and the schools behind it; ``estimate`` (and
    the interval) is None below the minimum number of schools."""

    estimate: float | None
    low: float | None
    high: float | None
    supported_schools: int
    comparison_schools: int
    supported_change: float | None
    comparison_change: float | None

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def difference_in_differences(
    treated_changes: Floats,
    neighbours: Sequence[Sequence[int]],
    pool_changes: Floats,
    *,
    min_schools: int,
    replicates: int = REPLICATES,
    seed: int = SEED,
) -> Estimate:
    """The matched difference in differences (see the module) of the supported schools' changes
    (``treated_changes``) against their comparison schools' (``neighbours`` index
    ``pool_changes``); supported schools without a comparison school are left out.

    The interval: in each replicate the matched supported schools and, separately, the comparison
    schools are drawn with replacement (as many as there are); a supported school whose comparison
    schools were all left out of the draw is left out of the replicate. Percentiles of the
    replicates' estimates give the interval. Vectorised: a replicate is a row of draw counts."""
    kept = [i for i, near in enumerate(neighbours) if near]
    used = sorted({j for i in kept for j in neighbours[i]})
    if not kept:
        return Estimate(None, None, None, 0, 0, None, None)
    position = {j: k for k, j in enumerate(used)}
    width = max(len(neighbours[i]) for i in kept)
    table = np.full((len(kept), width), -1, dtype=np.int64)
    for row, i in enumerate(kept):
        table[row, : len(neighbours[i])] = [position[j] for j in neighbours[i]]
    present = table >= 0
    ours = treated_changes[kept]
    theirs_of_pool = pool_changes[used]
    cells = np.where(present, table, 0)
    theirs = np.where(present, theirs_of_pool[cells], 0.0).sum(axis=1) / present.sum(axis=1)
    supported_change, comparison_change = float(ours.mean()), float(theirs.mean())
    n_treated, n_pool = len(kept), len(used)
    if min(n_treated, n_pool) < min_schools:
        return Estimate(None, None, None, n_treated, n_pool, supported_change, comparison_change)

    rng = np.random.default_rng(seed)
    drawn_treated = rng.multinomial(n_treated, np.full(n_treated, 1 / n_treated), size=replicates)
    drawn_pool = rng.multinomial(n_pool, np.full(n_pool, 1 / n_pool), size=replicates)
    weights = np.where(present[None, :, :], drawn_pool[:, cells], 0)  # replicate × treated × neighbour
    total = weights.sum(axis=2)
    theirs_drawn = (weights * theirs_of_pool[cells][None, :, :]).sum(axis=2) / np.maximum(total, 1)
    counted = drawn_treated * (total > 0)
    differences = ours[None, :] - theirs_drawn
    estimates = (counted * differences).sum(axis=1) / np.maximum(counted.sum(axis=1), 1)
    estimates = estimates[counted.sum(axis=1) > 0]
    tail = (1 - LEVEL) / 2
    low, high = np.quantile(estimates, [tail, 1 - tail])
    return Estimate(
        supported_change - comparison_change,
        float(low),
        float(high),
        n_treated,
        n_pool,
        supported_change,
        comparison_change,
    )


@dataclass(frozen=True)
class Comparison:
    """Both measures of one matching: the mean score and the lowest-mark share."""

    mean_score: Estimate
    lowest_mark: Estimate
    unmatched: int  # supported schools with results in both years but no comparison school
    matched: tuple[uuid.UUID, ...] = ()  # the supported schools in the estimate


def compare(
    treated: Sequence[School],
    treated_changes: tuple[Floats, Floats],
    pool: Sequence[School],
    pool_changes: tuple[Floats, Floats],
    *,
    min_schools: int,
) -> Comparison:
    """Match once (on the baseline of the mean score) and estimate both measures on the matches."""
    neighbours = matches(treated, pool)
    return Comparison(
        difference_in_differences(treated_changes[0], neighbours, pool_changes[0], min_schools=min_schools),
        difference_in_differences(treated_changes[1], neighbours, pool_changes[1], min_schools=min_schools),
        sum(1 for near in neighbours if not near),
        tuple(school.id for school, near in zip(treated, neighbours, strict=True) if near),
    )


# --- a region's results and schools, as the analysis reads them -----------------------------------


@dataclass
class ResultsWorld:
    """What the comparison reads of the regions of a frame's supported schools: every school's
    results of the two years (a row per school and cell) and each school's facts in the period."""

    rows: list[ResultRow] = field(default_factory=list)
    schools: list[School] = field(default_factory=list)
    supported: set[uuid.UUID] = field(default_factory=set)
    treated: set[uuid.UUID] = field(default_factory=set)  # supported and in a network in the period
    networked: set[uuid.UUID] = field(default_factory=set)  # in any network during the two years


def comparison_of(world: ResultsWorld, year: int, *, min_schools: int) -> Comparison:
    """The supported schools in networks (``treated``) against matched comparison schools: schools
    of their regions in no network during ``year - 1`` and ``year`` (see the module)."""
    changes = school_changes(world.rows, year).of()

    def side(schools: Iterable[School]) -> tuple[list[School], tuple[Floats, Floats]]:
        found = [
            replace(school, baseline=changes[school.id][0]) for school in schools if school.id in changes
        ]
        return found, (
            np.array([changes[school.id][1] for school in found]),
            np.array([changes[school.id][2] for school in found]),
        )

    schools = sorted(world.schools, key=lambda school: str(school.id))  # the draws: by id, not by read
    treated, treated_changes = side(school for school in schools if school.id in world.treated)
    pool, pool_changes = side(
        school for school in schools if school.id not in world.treated and school.id not in world.networked
    )
    return compare(treated, treated_changes, pool, pool_changes, min_schools=min_schools)


def supported_changes(
    world: ResultsWorld, year: int, *, procedures: Collection[str] | None = None
) -> dict[uuid.UUID, tuple[float, float]]:
    """Per supported school with results in both years: the standardised change of its mean score
    and of its share of the lowest mark from ``year - 1`` to ``year`` (of ``procedures`` only, when
    given) — what the list of schools needing attention reads."""
    changes = school_changes(world.rows, year, procedures=procedures).of()
    return {ident: (mean, lowest) for ident, (_, mean, lowest) in changes.items() if ident in world.supported}
