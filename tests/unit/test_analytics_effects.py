"""Like-for-like results (:mod:`services.analytics.effects`): standardisation, matching, the
difference in differences and its interval — and their validation on synthetic regions with a
known truth (:mod:`tests.synthetic_worlds`), deterministic by seed."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from services.analytics import effects
from services.analytics.analysis_model import Period
from tests.synthetic_worlds import generate

pytestmark = pytest.mark.unit

WORLDS = 50
YEAR = 2025


def school(
    n: int, status: str = "low_results", band: str = "medium", baseline: float = 0.0
) -> effects.School:
    return effects.School(uuid.UUID(int=n), "39", status, band, baseline)


def row(n: int, procedure: str, year: int, mean: float, lowest: float = 0.1) -> effects.ResultRow:
    return effects.ResultRow(uuid.UUID(int=n), "39", procedure, "математика", 9, year, mean, lowest)


def test_results_of_different_scales_become_the_same_unit() -> None:
    # ЕГЭ in points, ВПР in marks: school 1 is one standard deviation above the others in both
    # years of both, school 2 one below, school 3 at the mean — and then rises by as much in each
    rows = []
    for procedure, mean, spread in (("ege", 60.0, 8.0), ("vpr", 3.6, 0.4)):
        for n, before, after in ((1, 1, 1), (2, -1, -1), (3, 0, 1)):
            rows.append(row(n, procedure, YEAR - 1, mean + spread * before * np.sqrt(1.5)))
            rows.append(row(n, procedure, YEAR, mean + spread * after))
    changes = effects.school_changes(rows, YEAR).of()
    mean_changes = {ident.int: round(change, 6) for ident, (_, change, _) in changes.items()}
    # in both procedures the same standardised changes, whatever the scale
    per_procedure = [
        effects.school_changes(rows, YEAR, procedures=[p]).of()[uuid.UUID(int=3)][1] for p in ("ege", "vpr")
    ]
    assert per_procedure[0] == pytest.approx(per_procedure[1])
    assert mean_changes[3] == pytest.approx(per_procedure[0])
    assert mean_changes[3] > 0 > mean_changes[2]


def test_a_cell_with_one_school_has_no_standard_and_equal_values_are_all_at_the_mean() -> None:
    z = effects.standardised(np.array([0, 1, 1, 2, 2]), np.array([5.0, 3.0, 4.0, 0.1, 0.1]))
    assert np.isnan(z[0]) and z[1:].tolist() == [-1.0, 1.0, 0.0, 0.0]


def test_comparison_schools_share_status_and_size_and_lie_within_the_caliper() -> None:
    treated = [school(1, baseline=0.0)]
    pool = [
        school(10, baseline=0.1),
        school(11, baseline=-0.2),
        school(12, status="other", baseline=0.0),  # another status
        school(13, band="large", baseline=0.0),  # another size band
        school(14, baseline=0.6),  # beyond the caliper
        school(15, baseline=0.3),
        school(16, baseline=0.45),  # the fourth nearest
    ]
    assert effects.matches(treated, pool) == [[0, 1, 5]]
    assert effects.matches([school(2, status="adverse_social_conditions")], pool) == [[]]


def test_below_the_minimum_there_is_no_estimate_but_the_counts() -> None:
    estimate = effects.difference_in_differences(
        np.array([0.5, 0.4]), [[0], [0, 1]], np.array([0.0, 0.1]), min_schools=10
    )
    assert (estimate.estimate, estimate.low, estimate.high) == (None, None, None)
    assert (estimate.supported_schools, estimate.comparison_schools) == (2, 2)
    assert not estimate.significant


def test_the_interval_is_the_same_for_the_same_data() -> None:
    rng = np.random.default_rng(7)
    ours, theirs = rng.normal(0.3, 1, 40), rng.normal(0, 1, 60)
    neighbours = [[i % 60, (i + 1) % 60, (i + 2) % 60] for i in range(40)]
    first = effects.difference_in_differences(ours, neighbours, theirs, min_schools=10)
    second = effects.difference_in_differences(ours, neighbours, theirs, min_schools=10)
    assert first == second
    assert first.low is not None and first.high is not None and first.estimate is not None
    assert first.low < first.estimate < first.high


def analysed(seed: int, effect: float) -> tuple[effects.Comparison, float]:
    world = generate(seed, effect=effect)
    comparison = effects.comparison_of(world.facts(Period.year(YEAR), YEAR), YEAR, min_schools=10)
    return comparison, world.truth(comparison.matched, YEAR)


def test_the_interval_holds_a_planted_effect_and_no_effect_is_no_significant_change() -> None:
    """50 regions with +0.3 ст. откл. planted for supported schools in active networks, 50 with
    nothing planted: the interval contains the truth (the planted change averaged over the
    supported schools compared) in at least 90 %; without an effect, at least 90 % say «значимого
    изменения нет»."""
    covered, estimated = 0, 0
    for seed in range(WORLDS):
        comparison, truth = analysed(seed, 0.3)
        estimate = comparison.mean_score
        if estimate.low is not None and estimate.high is not None:
            estimated += 1
            covered += estimate.low <= truth <= estimate.high
    quiet = 0
    for seed in range(1000, 1000 + WORLDS):
        comparison, truth = analysed(seed, 0.0)
        assert truth == 0.0
        quiet += comparison.mean_score.estimate is not None and not comparison.mean_score.significant
    print(f"\ncoverage {covered}/{WORLDS}, no significant change without an effect {quiet}/{WORLDS}")
    assert estimated == WORLDS  # every world has enough schools
    assert covered >= 0.9 * WORLDS
    assert quiet >= 0.9 * WORLDS
